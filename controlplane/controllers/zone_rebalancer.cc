#include "controlplane/controllers/zone_rebalancer.h"

#include "absl/strings/str_cat.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout.h"

namespace gantry::controllers {

using gantry::v1::Service;
using gantry::v1::Task;

std::map<std::string, int> ZoneRebalancer::CountZones(
    const Service& service, const scheduler::PlacementPolicy& policy, const std::vector<Task>& live,
    std::vector<scheduler::StopCandidate>& candidates) const {
  // Every zone where the service could run counts, with its tasks.
  std::map<std::string, int> zone_tasks;
  state_->WithPlacementView(service.name(),
                            [&](const scheduler::NodeTable& table, const scheduler::ServiceLoad&) {
                              for (const auto& n : table.nodes()) {
                                if (scheduler::StaticReject(n, policy).empty()) zone_tasks[n.zone];
                              }
                            });
  for (const auto& t : live) {
    if (!zone_tasks.contains(t.zone())) continue;
    zone_tasks[t.zone()]++;
    candidates.push_back({t.id(), t.node(), t.zone(), true});
  }
  return zone_tasks;
}

absl::Status ZoneRebalancer::Evict(const std::string& task, const std::string& reason) {
  return state_->UpdateTask(task, [&](Task& t) {
    if (!t.evicted_reason().empty() || t.desired_status() != Task::RUNNING) return false;
    t.set_evicted_reason(reason);
    return true;
  });
}

absl::Status ZoneRebalancer::Rebalance(const Service& service,
                                       const gantry::v1::Deployment& primary,
                                       const gantry::v1::TaskDefinition& td,
                                       const scheduler::PlacementPolicy& policy,
                                       const std::vector<Task>& live, TaskBatch& batch) {
  if (service.has_zone_rebalancing() && !service.zone_rebalancing()) return absl::OkStatus();
  if (policy.strategies.empty() ||
      policy.strategies[0].kind != scheduler::Strategy::Kind::kSpread ||
      policy.strategies[0].field != scheduler::Strategy::Field::kZone) {
    return absl::OkStatus();  // only a zone spread asks for even zones
  }
  std::vector<scheduler::StopCandidate> candidates;
  auto zone_tasks = CountZones(service, policy, live, candidates);
  const auto move = scheduler::PlanRebalance(zone_tasks);
  if (!move) return absl::OkStatus();
  std::vector<scheduler::StopCandidate> in_from;
  for (const auto& c : candidates) {
    if (c.zone == move->from_zone) in_from.push_back(c);
  }
  const auto victims = scheduler::ChooseTasksToStop(in_from, 1);
  if (victims.empty()) return absl::OkStatus();
  // Within the deployment limits: start the replacement beside the task
  // when maximumPercent leaves room (the task leaves once the replacement
  // is healthy); otherwise stop the task first when minimumHealthyPercent
  // allows one fewer; otherwise the service stays as it is.
  const auto settings = deployments::SettingsOf(service);
  const int desired = primary.desired_count();
  const int live_count = static_cast<int>(live.size());
  const bool room_above = live_count + 1 <= deployments::MaxTotal(desired, settings.max_percent);
  const bool room_below = live_count - 1 >= deployments::MinHealthy(desired, settings.min_percent);
  if (!room_above && !room_below) {
    failures_->Record(service.name(),
                      absl::StrCat("zone rebalancing waits: ", move->from_zone, " has ",
                                   zone_tasks[move->from_zone], " tasks and ", move->to_zone, " ",
                                   zone_tasks[move->to_zone], ", but maximumPercent ",
                                   settings.max_percent, " and minimumHealthyPercent ",
                                   settings.min_percent, " leave no room to move one"));
    return absl::OkStatus();
  }
  // The replacement must land in the emptiest zone, or the move is moot.
  auto [result, request] = batch.Place(service, primary, td, policy, 1, move->to_zone);
  if (result.placed.empty()) {
    failures_->Record(
        service.name(),
        absl::StrCat("zone rebalancing: ", result.Explain(request, state_->ListNodes().size())));
    return absl::OkStatus();
  }
  const std::string reason =
      absl::StrCat("Zone rebalancing: ", move->from_zone, " has ", zone_tasks[move->from_zone],
                   " tasks, ", move->to_zone, " has ", zone_tasks[move->to_zone]);
  events_->Record(service.name(), victims[0], "",
                  absl::StrCat(reason, ": moving task ", victims[0].substr(0, 8), " to ",
                               move->to_zone, room_above ? "" : " (stopping it first)"));
  if (!room_above) return stopper_->Stop(&service, {victims[0]}, reason);
  return Evict(victims[0], reason);
}

}  // namespace gantry::controllers
