#include "controlplane/metrics/cp_metrics.h"

#include <map>

#include "absl/container/flat_hash_map.h"
#include "common/metrics/exposition.h"

namespace gantry::metrics {

using gantry::v1::Deployment;
using gantry::v1::Node;
using gantry::v1::Task;
using prometheus::MetricType;

ControlPlaneMetrics::ControlPlaneMetrics(const state::ClusterState* state)
    : state_(state),
      requests_(prometheus::BuildCounter()
                    .Name("gantry_api_requests_total")
                    .Help("Operator API calls, by method and gRPC status code.")
                    .Register(registry_)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("gantry_api_request_duration_seconds")
                           .Help("How long operator API calls took, by method.")
                           .Register(registry_)),
      placements_(prometheus::BuildCounter()
                      .Name("gantry_placements_total")
                      .Help("Tasks the scheduler placed (result=placed) or could not place "
                            "(result=unplaced).")
                      .Register(registry_)),
      placement_seconds_(prometheus::BuildHistogram()
                             .Name("gantry_placement_duration_seconds")
                             .Help("How long one placement request (any number of tasks) took.")
                             .Register(registry_)
                             .Add({}, LatencyBuckets())),
      loop_seconds_(prometheus::BuildHistogram()
                        .Name("gantry_reconcile_duration_seconds")
                        .Help("How long one pass of a control loop took, by loop.")
                        .Register(registry_)),
      scaling_(prometheus::BuildCounter()
                   .Name("gantry_autoscaling_decisions_total")
                   .Help("Autoscaling actions taken, by service and direction (out or in).")
                   .Register(registry_)),
      scaling_errors_(prometheus::BuildCounter()
                          .Name("gantry_autoscaling_errors_total")
                          .Help("Autoscaling evaluations that took no action because a query "
                                "failed or returned no single value.")
                          .Register(registry_)),
      alarms_(prometheus::BuildCounter()
                  .Name("gantry_deployment_alarms_fired_total")
                  .Help("Deployment alarms that fired and failed a deployment.")
                  .Register(registry_)),
      alarm_errors_(prometheus::BuildCounter()
                        .Name("gantry_deployment_alarm_errors_total")
                        .Help("Deployment alarm evaluations whose query failed.")
                        .Register(registry_)) {}

void ControlPlaneMetrics::ApiRequest(const std::string& method, const std::string& code,
                                     absl::Duration took) {
  requests_.Add({{"method", method}, {"code", code}}).Increment();
  request_seconds_.Add({{"method", method}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
}

void ControlPlaneMetrics::Placement(int placed, int unplaced, absl::Duration took) {
  if (placed > 0) placements_.Add({{"result", "placed"}}).Increment(placed);
  if (unplaced > 0) placements_.Add({{"result", "unplaced"}}).Increment(unplaced);
  placement_seconds_.Observe(absl::ToDoubleSeconds(took));
}

void ControlPlaneMetrics::LoopPass(const std::string& loop, absl::Duration took) {
  loop_seconds_.Add({{"loop", loop}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
}

void ControlPlaneMetrics::AutoscalingDecision(const std::string& service,
                                              const std::string& direction) {
  scaling_.Add({{"service", service}, {"direction", direction}}).Increment();
}

void ControlPlaneMetrics::AutoscalingError(const std::string& service) {
  scaling_errors_.Add({{"service", service}}).Increment();
}

void ControlPlaneMetrics::AlarmFired(const std::string& service, const std::string& alarm) {
  alarms_.Add({{"service", service}, {"alarm", alarm}}).Increment();
}

void ControlPlaneMetrics::AlarmError(const std::string& service) {
  alarm_errors_.Add({{"service", service}}).Increment();
}

std::vector<prometheus::MetricFamily> ControlPlaneMetrics::Collect() const {
  if (state_ == nullptr) return {};
  auto tasks = NewFamily("gantry_tasks", "Tasks by service, last reported state and health.",
                         MetricType::Gauge);
  auto desired =
      NewFamily("gantry_service_desired_count", "Tasks each service wants.", MetricType::Gauge);
  auto nodes = NewFamily("gantry_nodes", "Nodes by status and zone.", MetricType::Gauge);
  auto deployments = NewFamily("gantry_deployments", "Deployments by service and rollout state.",
                               MetricType::Gauge);

  // Service -> (state, health) -> tasks, counted without copying tasks.
  absl::flat_hash_map<std::string, std::map<std::pair<int, int>, int>> by_service;
  state_->ForEachTask([&](const Task& t) {
    if (t.last_status() == Task::STOPPED || t.last_status() == Task::LOST) return;
    auto it = by_service.find(t.service());
    if (it == by_service.end()) it = by_service.try_emplace(t.service()).first;
    const auto health = t.health() == Task::HEALTH_UNSPECIFIED ? Task::UNKNOWN : t.health();
    it->second[{t.last_status(), health}]++;
  });
  for (const auto& [service, counts] : by_service) {
    for (const auto& [k, n] : counts) {
      AddSample(tasks,
                {{"service", service},
                 {"state", Task::Status_Name(static_cast<Task::Status>(k.first))},
                 {"health", Task::Health_Name(static_cast<Task::Health>(k.second))}},
                n);
    }
  }
  for (const auto& s : state_->ListServices()) {
    AddSample(desired, {{"service", s.name()}}, s.desired_count());
    std::map<std::string, int> by_rollout;
    for (const auto& d : s.deployments()) {
      if (d.status() == Deployment::INACTIVE) continue;
      by_rollout[Deployment::RolloutState_Name(d.rollout_state())]++;
    }
    for (const auto& [state, n] : by_rollout) {
      AddSample(deployments, {{"service", s.name()}, {"state", state}}, n);
    }
  }
  std::map<std::pair<std::string, std::string>, int> by_status;
  for (const auto& n : state_->ListNodes()) by_status[{Node::Status_Name(n.status()), n.zone()}]++;
  for (const auto& [k, n] : by_status) {
    AddSample(nodes, {{"status", k.first}, {"zone", k.second}}, n);
  }
  return {tasks, desired, nodes, deployments};
}

std::string ControlPlaneMetrics::Render() const { return metrics::Render({&registry_, this}); }

}  // namespace gantry::metrics
