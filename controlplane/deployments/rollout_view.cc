#include "controlplane/deployments/rollout_view.h"

#include "absl/strings/str_cat.h"
#include "controlplane/deployments/deployments.h"

namespace gantry::deployments {

using gantry::v1::Deployment;
using gantry::v1::Task;

namespace {

// Why a live task must leave the focus deployment; empty when it serves.
std::string WhyLeaving(const Task& t, bool mine, const Deployment& focus, const TaskFacts& facts,
                       RolloutTask& rt) {
  if (!mine) {
    return absl::StrCat("Replaced by deployment ", focus.id(), " (", focus.task_definition(), ")");
  }
  if (t.health() == Task::UNHEALTHY) return "Task is UNHEALTHY: it failed its health check";
  if (facts.draining_nodes.contains(t.node())) {
    return absl::StrCat("Node ", t.node(), " is DRAINING");
  }
  if (!t.evicted_reason().empty()) {
    rt.replace_first = true;
    return t.evicted_reason();
  }
  if (t.has_deregistered_at()) return "Left the load balancer";
  return "";
}

}  // namespace

RolloutView ViewTasks(const gantry::v1::Service& service, const Deployment& focus,
                      const std::vector<Task>& tasks, const TaskFacts& facts,
                      absl::Duration settle_time, absl::Time now) {
  RolloutView v;
  for (const auto& t : tasks) {
    const bool mine = BelongsTo(t, focus);
    const bool live = t.desired_status() == Task::RUNNING;
    if (mine && (t.failed() || (live && t.health() == Task::UNHEALTHY))) v.failed++;
    if (!live) continue;
    for (const auto& d : service.deployments()) {
      if (BelongsTo(t, d)) v.deployments_with_tasks.insert(d.id());
    }
    const bool checked = facts.checked_definitions.contains(t.task_definition());
    RolloutTask rt{t.id(),
                   t.node(),
                   t.zone(),
                   mine,
                   t.last_status() == Task::RUNNING,
                   IsHealthy(t, checked, settle_time, now)};
    const std::string why = WhyLeaving(t, mine, focus, facts, rt);
    if (mine && t.health() == Task::UNHEALTHY) v.unhealthy.insert(t.id());
    rt.leaving = !why.empty();
    if (rt.leaving) v.reason[t.id()] = why;
    v.tasks.push_back(rt);
  }
  return v;
}

}  // namespace gantry::deployments
