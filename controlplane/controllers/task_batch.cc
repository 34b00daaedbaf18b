#include "controlplane/controllers/task_batch.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids.h"
#include "common/spec/validation.h"
#include "common/time_util.h"
#include "controlplane/state/keys.h"

namespace gantry::controllers {

using gantry::v1::Task;

std::pair<scheduler::PlacementResult, scheduler::PlacementRequest> TaskBatch::Place(
    const gantry::v1::Service& service, const gantry::v1::Deployment& deployment,
    const gantry::v1::TaskDefinition& td, const scheduler::PlacementPolicy& policy, int count,
    const std::string& only_zone) {
  scheduler::PlacementRequest request;
  request.service = service.name();
  request.count = count;
  request.policy = &policy;
  request.only_zone = only_zone;
  request.seed = ++seed_;
  for (const auto& c : td.containers()) {
    request.cpu += c.cpu();
    request.memory += c.memory();
    for (const auto& pm : c.port_mappings()) {
      if (pm.host_port() != 0) {
        request.static_ports.push_back(pm.host_port());
      } else {
        request.dynamic_ports++;
      }
    }
  }
  scheduler::PlacementResult result;
  const absl::Time began = absl::Now();
  state_->WithPlacementView(
      service.name(), [&](const scheduler::NodeTable& table, const scheduler::ServiceLoad& load) {
        result = scheduler::Place(table, load, request, overlay_);
      });
  if (metrics_ != nullptr) {
    metrics_->Placement(static_cast<int>(result.placed.size()), result.unplaced,
                        absl::Now() - began);
  }
  if (result.placed.empty()) return {result, request};

  const auto now = ToProtoTime(clock_->Now());
  const std::string td_ref = absl::StrCat(td.family(), ":", td.revision());
  auto& summary = placed_[service.name()];
  summary.first = td_ref;
  for (const auto& p : result.placed) {
    Task task;
    task.set_id(NewId());
    task.set_service(service.name());
    task.set_task_definition(td_ref);
    task.set_deployment_id(deployment.id());
    task.set_node(p.node);
    task.set_zone(p.zone);
    task.set_desired_status(Task::RUNNING);
    task.set_last_status(Task::PENDING);
    *task.mutable_created_at() = now;
    task.mutable_resources()->set_cpu(request.cpu);
    task.mutable_resources()->set_memory(request.memory);
    *task.mutable_secret_versions() = deployment.secret_versions();
    const auto node = state_->GetNode(p.node);
    size_t dyn = 0;
    for (const auto& c : td.containers()) {
      auto* cs = task.add_containers();
      cs->set_name(c.name());
      cs->set_status(Task::PENDING);
      cs->set_image(c.image());
      for (const auto& pin : deployment.image_pins()) {
        if (pin.container() == c.name()) cs->set_image_digest(pin.digest());
      }
      for (const auto& pm : c.port_mappings()) {
        auto* b = task.add_ports();
        b->set_name(pm.name());
        b->set_host_port(pm.host_port() != 0 ? pm.host_port() : p.dynamic_ports[dyn++]);
        // On the node's network the container listens on the host port;
        // with its own network, on its containerPort (0: the host port).
        b->set_container_port(pm.container_port() != 0 && spec::NetworkModeOf(td) == "task"
                                  ? pm.container_port()
                                  : b->host_port());
        if (node) b->set_host_address(node->value.address());
      }
    }
    summary.second[p.zone]++;
    txn_.compares.push_back({state::TaskKey(task.id()), 0});
    txn_.ops.push_back(store::Op::Put(state::TaskKey(task.id()), task.SerializeAsString()));
    tasks_++;
  }
  return {result, request};
}

absl::Status TaskBatch::Flush() {
  if (txn_.ops.empty()) return absl::OkStatus();
  auto committed = state_->CommitEach(txn_);
  txn_ = {};
  tasks_ = 0;
  overlay_.Clear();
  auto placed = std::move(placed_);
  placed_.clear();
  if (!committed.ok()) return committed.status();
  if (!committed->succeeded) {
    return absl::AbortedError("new task ids collided; the next pass places them again");
  }
  for (const auto& [service, summary] : placed) {
    int total = 0;
    std::vector<std::string> zones;
    for (const auto& [zone, n] : summary.second) {
      zones.push_back(absl::StrCat(zone, " ", n));
      total += n;
    }
    events_->Record(service, "", "",
                    absl::StrCat("placed ", total, " task(s) of ", summary.first,
                                 "; by zone: ", absl::StrJoin(zones, ", ")));
  }
  return absl::OkStatus();
}

}  // namespace gantry::controllers
