#include "controlplane/controllers/deployment_runner.h"

#include <google/protobuf/util/message_differencer.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/deployments/blue_green.h"
#include "controlplane/deployments/rolling_progress.h"
#include "controlplane/deployments/rollout.h"

namespace gantry::controllers {

using gantry::v1::Deployment;
using gantry::v1::Service;
using gantry::v1::Task;
using gantry::v1::TaskDefinition;

absl::Status DeploymentRunner::StartFirst(const std::string& service) {
  return state_->UpdateService(service, [&](Service& s) {
    if (deployments::Primary(s) != nullptr) return false;
    deployments::Start(s, s.resolved_task_definition(), clock_->Now());
    return true;
  });
}

absl::StatusOr<bool> DeploymentRunner::Step(const Service& service, const Deployment& primary,
                                            const TaskDefinition& td,
                                            const scheduler::PlacementPolicy& policy,
                                            const std::vector<Task>& tasks, TaskBatch& batch) {
  if (primary.strategy() == "blueGreen" && primary.phase() != Deployment::PHASE_UNSPECIFIED) {
    RETURN_IF_ERROR(StepBlueGreen(service, primary, td, policy, tasks, batch));
    return false;
  }
  // A deployment alarm fired (alarms.h): fail it like failing health
  // checks do. Blue-green handles its own in PlanBlueGreen.
  if (primary.rollout_state() == Deployment::IN_PROGRESS && !primary.alarm().empty()) {
    RETURN_IF_ERROR(Fail(service, primary.id(), primary.alarm()));
    return false;
  }
  return StepRolling(service, primary, td, policy, tasks, batch);
}

deployments::RolloutView DeploymentRunner::View(const Service& service, const Deployment& focus,
                                                const std::vector<Task>& tasks,
                                                const deployments::Settings& settings,
                                                absl::Time now) const {
  deployments::TaskFacts facts;
  std::set<std::string> looked_up;
  for (const auto& t : tasks) {
    if (t.desired_status() != Task::RUNNING) continue;
    if (looked_up.insert(t.task_definition()).second) {
      const auto def = state_->ResolveTaskDefinition(t.task_definition());
      if (def && deployments::HasHealthCheck(*def)) {
        facts.checked_definitions.insert(t.task_definition());
      }
    }
    const auto node = state_->GetNode(t.node());
    if (node && node->value.status() == gantry::v1::Node::DRAINING) {
      facts.draining_nodes.insert(t.node());
    }
  }
  return deployments::ViewTasks(service, focus, tasks, facts, settings.settle_time, now);
}

scheduler::PlacementResult DeploymentRunner::Place(const Service& service,
                                                   const Deployment& deployment,
                                                   const TaskDefinition& td,
                                                   const scheduler::PlacementPolicy& policy,
                                                   int count, TaskBatch& batch) {
  auto [result, request] = batch.Place(service, deployment, td, policy, count);
  if (result.unplaced > 0) {
    failures_->Record(service.name(), result.Explain(request, state_->ListNodes().size()));
  }
  return std::move(result);
}

absl::StatusOr<bool> DeploymentRunner::StepRolling(
    const Service& service, const Deployment& primary, const TaskDefinition& td,
    const scheduler::PlacementPolicy& policy, const std::vector<Task>& tasks, TaskBatch& batch) {
  const std::string& name = service.name();
  const auto settings = deployments::SettingsOf(service);
  const absl::Time now = clock_->Now();
  const deployments::RolloutView v = View(service, primary, tasks, settings, now);
  const int desired = primary.desired_count();
  const int threshold = deployments::CircuitBreakerThreshold(desired, settings.threshold);
  if (settings.breaker && primary.rollout_state() == Deployment::IN_PROGRESS &&
      v.failed >= threshold) {
    RETURN_IF_ERROR(Fail(service, primary.id(),
                         absl::StrCat("circuit breaker: ", v.failed, " task(s) failed (threshold ",
                                      threshold, ")")));
    return false;
  }
  bool can_start =
      primary.rollout_state() != Deployment::FAILED && !deployments::HeldForAlarms(primary);
  if (can_start) {
    const absl::Time until = backoff_->Until(service, primary, tasks);
    if (until > now) {
      rechecks_->At(name, until);
      can_start = false;
    }
  }
  const auto plan = deployments::PlanRolling(desired, settings.min_percent, settings.max_percent,
                                             v.tasks, can_start);
  for (const auto& id : plan.stop) {
    auto it = v.reason.find(id);
    RETURN_IF_ERROR(stopper_->Stop(
        &service, {id}, it != v.reason.end() ? it->second : absl::StrCat("Scaled in to ", desired),
        v.unhealthy.contains(id)));
  }
  int placed = 0;
  if (plan.start > 0) {
    const auto result = Place(service, primary, td, policy, plan.start, batch);
    placed = static_cast<int>(result.placed.size());
    if (result.unplaced == 0) failures_->Forget(name);
  }
  const auto progress = deployments::TrackRolling(service, primary, v, placed, settings, now);
  for (const auto& e : progress.events) events_->Record(name, "", "", e);
  if (progress.recheck) rechecks_->At(name, *progress.recheck);
  RETURN_IF_ERROR(Save(service, progress.primary));
  RETURN_IF_ERROR(RetireDrained(service, v));
  return progress.settled;
}

absl::Status DeploymentRunner::StepBlueGreen(const Service& service, const Deployment& green,
                                             const TaskDefinition& td,
                                             const scheduler::PlacementPolicy& policy,
                                             const std::vector<Task>& tasks, TaskBatch& batch) {
  const std::string& name = service.name();
  const auto settings = deployments::SettingsOf(service);
  const absl::Time now = clock_->Now();
  const deployments::RolloutView v = View(service, green, tasks, settings, now);
  const auto backoff = backoff_->Compute(green, tasks, now);
  auto plan = deployments::PlanBlueGreen(service, green, v, settings, backoff.until, now);
  if (!plan.fail_back.empty()) return FailBack(service, green, plan.blue, plan.fail_back);
  if (plan.uses_backoff) backoff_->Announce(service, backoff, now);
  if (plan.recheck) rechecks_->At(name, *plan.recheck);
  for (const auto& stop : plan.stop) {
    RETURN_IF_ERROR(stopper_->Stop(&service, {stop.id}, stop.reason, stop.failed));
  }
  if (plan.start > 0) {
    const auto result = Place(service, green, td, policy, plan.start, batch);
    plan.green.set_pending_count(plan.green.pending_count() +
                                 static_cast<int>(result.placed.size()));
  }
  for (const auto& e : plan.events) events_->Record(name, "", "", e);
  return Save(service, plan.green);
}

absl::Status DeploymentRunner::FailBack(const Service& service, const Deployment& green,
                                        const std::string& blue, const std::string& reason) {
  if (blue.empty()) return Fail(service, green.id(), reason);
  RETURN_IF_ERROR(state_->UpdateService(service.name(), [&](Service& s) {
    Deployment* g = deployments::Find(s, green.id());
    Deployment* b = deployments::Find(s, blue);
    if (g == nullptr || b == nullptr || g->status() != Deployment::PRIMARY) return false;
    g->set_rollout_state(Deployment::FAILED);
    g->set_rollout_state_reason(reason);
    g->set_status(Deployment::ACTIVE);
    g->set_traffic_percent(0);
    g->set_phase(Deployment::PHASE_UNSPECIFIED);
    b->set_status(Deployment::PRIMARY);
    b->set_traffic_percent(100);
    s.set_resolved_task_definition(b->task_definition());
    return true;
  }));
  std::string blue_definition;
  for (const auto& d : service.deployments()) {
    if (d.id() == blue) blue_definition = d.task_definition();
  }
  events_->Record(service.name(), "", "",
                  absl::StrCat("blue-green: deployment ", green.id(), " (", green.task_definition(),
                               ") FAILED: ", reason, "; all traffic is back on ", blue, " (",
                               blue_definition, ")"));
  return absl::OkStatus();
}

absl::Status DeploymentRunner::Fail(const Service& service, const std::string& id,
                                    const std::string& reason) {
  const auto settings = deployments::SettingsOf(service);
  std::string message;
  RETURN_IF_ERROR(state_->UpdateService(service.name(), [&](Service& s) {
    message.clear();
    Deployment* d = deployments::Find(s, id);
    if (d == nullptr || d->rollout_state() != Deployment::IN_PROGRESS) return false;
    d->set_rollout_state(Deployment::FAILED);
    d->set_rollout_state_reason(reason);
    *d->mutable_updated_at() = ToProtoTime(clock_->Now());
    const std::string failed_td = d->task_definition();
    message = absl::StrCat("deployment ", id, " (", failed_td, ") FAILED: ", reason);
    const Deployment* target = settings.rollback ? deployments::LastCompleted(s, id) : nullptr;
    if (!settings.rollback) {
      absl::StrAppend(&message, "; rollback is off, so it stays as it is");
    } else if (target == nullptr) {
      absl::StrAppend(&message, "; there is no COMPLETED deployment to roll back to");
    } else {
      const Deployment previous = *target;
      auto& next = deployments::Start(s, previous.task_definition(), clock_->Now(), id);
      *next.mutable_image_pins() = previous.image_pins();
      next.set_images_pinned(previous.images_pinned());
      *next.mutable_secret_versions() = previous.secret_versions();
      next.set_secrets_pinned(previous.secrets_pinned());
      s.set_resolved_task_definition(previous.task_definition());
      absl::StrAppend(&message, "; rolling back to ", previous.task_definition(), " (deployment ",
                      next.id(), ")");
    }
    return true;
  }));
  if (!message.empty()) events_->Record(service.name(), "", "", message);
  return absl::OkStatus();
}

absl::Status DeploymentRunner::Save(const Service& service, const Deployment& deployment) {
  return state_->UpdateService(service.name(), [&](Service& s) {
    Deployment* d = deployments::Find(s, deployment.id());
    if (d == nullptr) return false;
    Deployment updated = deployment;
    // Fields only the API changes stay as stored.
    updated.set_desired_count(d->desired_count());
    updated.set_status(d->status());
    // ... and the alarm watcher's.
    updated.set_alarm(d->alarm());
    if (d->has_alarms_unavailable_since()) {
      *updated.mutable_alarms_unavailable_since() = d->alarms_unavailable_since();
    } else {
      updated.clear_alarms_unavailable_since();
    }
    updated.set_alarms_waived(d->alarms_waived());
    if (google::protobuf::util::MessageDifferencer::Equals(*d, updated)) return false;
    *d = updated;
    return true;
  });
}

absl::Status DeploymentRunner::RetireDrained(const Service& service,
                                             const deployments::RolloutView& view) {
  // Older deployments whose tasks are all gone are done.
  return state_->UpdateService(service.name(), [&](Service& s) {
    bool changed = false;
    for (auto& d : *s.mutable_deployments()) {
      if (d.status() == Deployment::ACTIVE && !view.deployments_with_tasks.contains(d.id())) {
        d.set_status(Deployment::INACTIVE);
        changed = true;
      }
    }
    return changed;
  });
}

}  // namespace gantry::controllers
