// OperatorApi::ListEndpoints: what the load balancer should send where.
//
// Every service with a load balancer gets a production listener on its port
// and, with a test port, a test listener. Only healthy tasks that have not
// left the load balancer are backends. During a blue-green shift the
// production weights split between the old (blue) and new (green)
// deployments by the green deployment's traffic share; the test listener
// serves the green tasks.

#include "absl/strings/str_cat.h"
#include "controlplane/api/operator_api.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout.h"

namespace gantry::api {

using gantry::v1::Deployment;
using gantry::v1::Task;

namespace {

// A healthy task the load balancer may send traffic to.
struct Target {
  Task task;
  uint32_t port;  // its host port for the load balancer's target port
  bool green;     // belongs to the primary deployment
};

std::vector<Target> TargetsOf(const state::ClusterState& state, const gantry::v1::Service& service,
                              const Deployment* primary, absl::Time now) {
  const auto& lb = service.load_balancer();
  const auto settings = deployments::SettingsOf(service);
  std::vector<Target> targets;
  std::map<std::string, bool> checked;
  for (auto& t : state.ListTasks({.service = service.name()})) {
    if (t.desired_status() != Task::RUNNING) continue;
    auto it = checked.find(t.task_definition());
    if (it == checked.end()) {
      const auto td = state.ResolveTaskDefinition(t.task_definition());
      it = checked.emplace(t.task_definition(), td && deployments::HasHealthCheck(*td)).first;
    }
    if (!deployments::IsHealthy(t, it->second, settings.settle_time, now)) continue;
    uint32_t port = 0;
    for (const auto& p : t.ports()) {
      if (p.name() == lb.target_port()) port = p.host_port();
    }
    if (port == 0) continue;
    // A blue-green deployment that failed gets no traffic at all: blue
    // is still at full count.
    bool rejected = false;
    for (const auto& d : service.deployments()) {
      rejected |= d.strategy() == "blueGreen" && d.rollout_state() == Deployment::FAILED &&
                  deployments::BelongsTo(t, d);
    }
    if (rejected) continue;
    const bool green = primary != nullptr && deployments::BelongsTo(t, *primary);
    targets.push_back({std::move(t), port, green});
  }
  return targets;
}

}  // namespace

absl::StatusOr<gantry::v1::ListEndpointsResponse> OperatorApi::ListEndpoints() {
  gantry::v1::ListEndpointsResponse out;
  const absl::Time now = clock_->Now();
  for (const auto& service : state_->ListServices()) {
    if (!service.has_load_balancer()) continue;
    const auto& lb = service.load_balancer();
    const Deployment* primary = deployments::Primary(service);
    const bool shifting = primary != nullptr && primary->strategy() == "blueGreen" &&
                          primary->phase() != Deployment::PHASE_UNSPECIFIED;
    const std::vector<Target> targets = TargetsOf(*state_, service, primary, now);
    auto add = [&](bool test, uint32_t listen, auto&& share_of) {
      auto* l = out.add_listeners();
      l->set_service(service.name());
      l->set_port(listen);
      l->set_test(test);
      int green = 0;
      int blue = 0;
      for (const auto& tg : targets) (tg.green ? green : blue)++;
      for (const auto& tg : targets) {
        const int share = share_of(tg.green);
        // Outside a blue-green rollout every healthy task takes an equal
        // share, old and new alike.
        const int n = !shifting ? green + blue : tg.green ? green : blue;
        auto* b = l->add_backends();
        b->set_task_id(tg.task.id());
        b->set_address(tg.task.ports(0).host_address());
        for (const auto& p : tg.task.ports()) {
          if (p.name() == lb.target_port()) b->set_address(p.host_address());
        }
        b->set_port(tg.port);
        b->set_weight(deployments::ServerWeight(share, n));
        b->set_deployment_id(tg.task.deployment_id());
      }
    };
    const int green_share = shifting ? primary->traffic_percent() : 100;
    add(false, lb.port(), [&](bool green) {
      if (!shifting) return 100;  // rolling: every healthy task alike
      return green ? green_share : 100 - green_share;
    });
    if (lb.test_port() != 0) {
      // The test port serves the new deployment's tasks once all of them are
      // healthy; outside a blue-green rollout, the primary's.
      int healthy_green = 0;
      for (const auto& tg : targets) healthy_green += tg.green ? 1 : 0;
      const bool green_ready = !shifting || healthy_green >= primary->desired_count();
      add(true, lb.test_port(), [&](bool green) { return green && green_ready ? 100 : 0; });
    }
  }
  return out;
}

}  // namespace gantry::api
