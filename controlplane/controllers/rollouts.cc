// ServiceController's deployment steps: rolling deployments with minimum
// healthy and maximum percent, blue-green with traffic shifting and baking,
// the circuit breaker and rollbacks. The arithmetic is in
// deployments/rollout.h; this file applies it to the state.

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/controllers/service_controller.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout.h"

namespace gantry::controllers {

using gantry::v1::Deployment;
using gantry::v1::Service;
using gantry::v1::Task;
using gantry::v1::TaskDefinition;

namespace {

// What a pass learned about the service's live tasks.
struct View {
  std::vector<deployments::RolloutTask> rollout;  // live tasks
  std::vector<Task> live;
  std::map<std::string, std::string> reason;  // why a leaving task must go
  std::set<std::string> unhealthy;
  std::set<std::string> deployments_with_tasks;
  int failed = 0;  // failed tasks of the deployment in focus
};

}  // namespace

// Gathers the live tasks as `focus` sees them: its own that are fine serve,
// everything else leaves.
static View Look(state::ClusterState* state, const Service& service, const Deployment& focus,
                 const std::vector<Task>& tasks, const deployments::Settings& settings,
                 absl::Time now) {
  View v;
  std::map<std::string, bool> checked;
  auto has_check = [&](const std::string& ref) {
    auto it = checked.find(ref);
    if (it != checked.end()) return it->second;
    const auto td = state->ResolveTaskDefinition(ref);
    return checked[ref] = td && deployments::HasHealthCheck(*td);
  };
  for (const auto& t : tasks) {
    const bool mine = deployments::BelongsTo(t, focus);
    const bool live = t.desired_status() == Task::RUNNING;
    if (mine && (t.failed() || (live && t.health() == Task::UNHEALTHY))) v.failed++;
    if (!live) continue;
    v.live.push_back(t);
    for (const auto& d : service.deployments()) {
      if (deployments::BelongsTo(t, d)) v.deployments_with_tasks.insert(d.id());
    }
    deployments::RolloutTask rt{
        t.id(),
        t.node(),
        t.zone(),
        mine,
        t.last_status() == Task::RUNNING,
        deployments::IsHealthy(t, has_check(t.task_definition()), settings.settle_time, now)};
    std::string why;
    const auto node = state->GetNode(t.node());
    if (!mine) {
      why = absl::StrCat("Replaced by deployment ", focus.id(), " (", focus.task_definition(), ")");
    } else if (t.health() == Task::UNHEALTHY) {
      why = "Task is UNHEALTHY: it failed its health check";
      v.unhealthy.insert(t.id());
    } else if (node && node->value.status() == gantry::v1::Node::DRAINING) {
      why = absl::StrCat("Node ", t.node(), " is DRAINING");
    } else if (!t.evicted_reason().empty()) {
      why = t.evicted_reason();
      rt.replace_first = true;
    } else if (t.has_deregistered_at()) {
      why = "Left the load balancer";
    }
    rt.leaving = !why.empty();
    if (rt.leaving) v.reason[t.id()] = why;
    v.rollout.push_back(rt);
  }
  return v;
}

absl::Status ServiceController::SaveDeployment(const Service& service,
                                               const Deployment& deployment) {
  return state_->UpdateService(service.name(), [&](Service& s) {
    Deployment* d = deployments::Find(s, deployment.id());
    if (d == nullptr) return false;
    Deployment updated = deployment;
    // Fields only the API changes stay as stored.
    updated.set_desired_count(d->desired_count());
    updated.set_status(d->status());
    updated.set_alarm(d->alarm());
    if (google::protobuf::util::MessageDifferencer::Equals(*d, updated)) return false;
    *d = updated;
    return true;
  });
}

absl::Status ServiceController::FailDeployment(Service& service, const std::string& id,
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
      s.set_resolved_task_definition(previous.task_definition());
      absl::StrAppend(&message, "; rolling back to ", previous.task_definition(), " (deployment ",
                      next.id(), ")");
    }
    return true;
  }));
  if (!message.empty()) events_->Record(service.name(), "", "", message);
  return absl::OkStatus();
}

absl::Status ServiceController::ReconcileDeployments(Service& service,
                                                     const std::vector<Task>& tasks,
                                                     TaskBatch& batch) {
  const std::string& name = service.name();
  Deployment* primary = deployments::Primary(service);
  if (primary == nullptr) {
    // Stored before deployments existed: give it one.
    return state_->UpdateService(name, [&](Service& s) {
      if (deployments::Primary(s) != nullptr) return false;
      deployments::Start(s, s.resolved_task_definition(), clock_->Now());
      return true;
    });
  }
  const auto td = state_->ResolveTaskDefinition(primary->task_definition());
  if (!td) {
    return absl::FailedPreconditionError(absl::StrCat(
        "service ", name, " deploys ", primary->task_definition(), ", which does not exist"));
  }
  auto policy = scheduler::PlacementPolicy::FromProto(service.placement());
  if (!policy.ok()) {
    RecordFailure(name, absl::StrCat("invalid placement: ", policy.status().message()));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(bool pinned, PinImages(service, *primary, *td));
  if (!pinned) return absl::OkStatus();
  if (primary->strategy() == "blueGreen" && primary->phase() != Deployment::PHASE_UNSPECIFIED) {
    return StepBlueGreen(service, *primary, *td, *policy, tasks, batch);
  }
  // A deployment alarm fired (alarms.h): fail it like failing health
  // checks do. Blue-green handles its own in StepBlueGreen.
  if (primary->rollout_state() == Deployment::IN_PROGRESS && !primary->alarm().empty()) {
    return FailDeployment(service, primary->id(), primary->alarm());
  }

  // Rolling.
  const auto settings = deployments::SettingsOf(service);
  const absl::Time now = clock_->Now();
  View v = Look(state_, service, *primary, tasks, settings, now);
  const int desired = primary->desired_count();
  const int threshold = deployments::CircuitBreakerThreshold(desired, settings.threshold);
  if (settings.breaker && primary->rollout_state() == Deployment::IN_PROGRESS &&
      v.failed >= threshold) {
    return FailDeployment(
        service, primary->id(),
        absl::StrCat("circuit breaker: ", v.failed, " task(s) failed (threshold ", threshold, ")"));
  }
  bool can_start = primary->rollout_state() != Deployment::FAILED;
  if (can_start) {
    const absl::Time until = BackoffUntil(service, *primary, tasks);
    if (until > now) {
      RecheckAt(name, until);
      can_start = false;
    }
  }
  const auto plan = deployments::PlanRolling(desired, settings.min_percent, settings.max_percent,
                                             v.rollout, can_start);
  for (const auto& id : plan.stop) {
    auto it = v.reason.find(id);
    RETURN_IF_ERROR(StopTasks(
        &service, {id}, it != v.reason.end() ? it->second : absl::StrCat("Scaled in to ", desired),
        v.unhealthy.contains(id)));
  }
  int placed = 0;
  if (plan.start > 0) {
    auto [result, request] = batch.Place(service, *primary, *td, *policy, plan.start);
    placed = static_cast<int>(result.placed.size());
    if (result.unplaced > 0) {
      RecordFailure(name, result.Explain(request, state_->ListNodes().size()));
    } else {
      last_failure_.erase(name);
    }
  }

  // Counts and state; tasks placed in this pass are pending already.
  Deployment updated = *primary;
  int pending = placed, running = 0, healthy = 0, leaving = 0, serving = placed;
  for (const auto& rt : v.rollout) {
    if (rt.leaving || !rt.primary) {
      leaving++;
      continue;
    }
    serving++;
    pending += rt.running ? 0 : 1;
    running += rt.running ? 1 : 0;
    healthy += rt.healthy ? 1 : 0;
  }
  updated.set_pending_count(pending);
  updated.set_running_count(running);
  updated.set_healthy_count(healthy);
  updated.set_failed_count(v.failed);
  // With alarms, a rolled-out deployment bakes before it completes, so the
  // alarms watch it under full load (rollbacks are not gated).
  const bool gated =
      !service.deployment_configuration().alarms().rules().empty() && updated.rollback_of().empty();
  const bool rolled_out = updated.rollout_state() == Deployment::IN_PROGRESS &&
                          healthy >= desired && serving == desired && leaving == 0;
  bool baked = true;
  if (rolled_out && gated) {
    if (updated.phase() != Deployment::BAKING) {
      updated.set_phase(Deployment::BAKING);
      *updated.mutable_phase_started_at() = ToProtoTime(now);
      events_->Record(
          name, "", "",
          absl::StrCat("deployment ", updated.id(), " rolled out; baking for ",
                       absl::FormatDuration(settings.bake_time), " while its alarms are watched"));
    }
    const absl::Time until = FromProtoTime(updated.phase_started_at()) + settings.bake_time;
    baked = now >= until;
    if (!baked) RecheckAt(name, until);
  }
  if (rolled_out && baked) {
    updated.clear_phase();
    updated.set_rollout_state(Deployment::COMPLETED);
    updated.set_rollout_state_reason("");
    *updated.mutable_updated_at() = ToProtoTime(now);
    events_->Record(name, "", "",
                    absl::StrCat("deployment ", updated.id(), " (", updated.task_definition(),
                                 ") COMPLETED: ", desired, " healthy task(s)"));
  }
  RETURN_IF_ERROR(SaveDeployment(service, updated));
  // Older deployments whose tasks are all gone are done.
  RETURN_IF_ERROR(state_->UpdateService(name, [&](Service& s) {
    bool changed = false;
    for (auto& d : *s.mutable_deployments()) {
      if (d.status() == Deployment::ACTIVE && !v.deployments_with_tasks.contains(d.id())) {
        d.set_status(Deployment::INACTIVE);
        changed = true;
      }
    }
    return changed;
  }));
  if (updated.rollout_state() == Deployment::COMPLETED && leaving == 0 && healthy == desired) {
    RETURN_IF_ERROR(Rebalance(service, updated, *td, *policy, v.live, batch));
  }
  return absl::OkStatus();
}

absl::Status ServiceController::StepBlueGreen(Service& service, Deployment& green,
                                              const TaskDefinition& td,
                                              const scheduler::PlacementPolicy& policy,
                                              const std::vector<Task>& tasks, TaskBatch& batch) {
  const std::string& name = service.name();
  const auto settings = deployments::SettingsOf(service);
  const absl::Time now = clock_->Now();
  View v = Look(state_, service, green, tasks, settings, now);
  const int desired = green.desired_count();
  // Blue: the newest other deployment that still has tasks.
  const Deployment* blue = nullptr;
  for (const auto& d : service.deployments()) {
    if (d.id() != green.id() && v.deployments_with_tasks.contains(d.id())) {
      blue = &d;
      break;
    }
  }
  int healthy_green = 0;
  int running_green = 0;
  int pending_green = 0;
  std::vector<deployments::RolloutTask> green_tasks;
  for (const auto& rt : v.rollout) {
    if (!rt.primary) continue;
    green_tasks.push_back(rt);
    if (rt.leaving) continue;
    healthy_green += rt.healthy ? 1 : 0;
    (rt.running ? running_green : pending_green)++;
  }
  auto fail_back = [&](const std::string& reason) -> absl::Status {
    if (blue == nullptr) return FailDeployment(service, green.id(), reason);
    const std::string blue_id = blue->id();
    RETURN_IF_ERROR(state_->UpdateService(name, [&](Service& s) {
      Deployment* g = deployments::Find(s, green.id());
      Deployment* b = deployments::Find(s, blue_id);
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
    events_->Record(
        name, "", "",
        absl::StrCat("blue-green: deployment ", green.id(), " (", green.task_definition(),
                     ") FAILED: ", reason, "; all traffic is back on ", blue_id, " (",
                     blue->task_definition(), ")"));
    return absl::OkStatus();
  };

  Deployment updated = green;
  updated.set_healthy_count(healthy_green);
  updated.set_running_count(running_green);
  updated.set_pending_count(pending_green);
  updated.set_failed_count(v.failed);
  const int threshold = deployments::CircuitBreakerThreshold(desired, settings.threshold);
  if (settings.breaker && v.failed >= threshold) {
    return fail_back(
        absl::StrCat("circuit breaker: ", v.failed, " task(s) failed (threshold ", threshold, ")"));
  }
  if (!green.alarm().empty()) return fail_back(green.alarm());
  const absl::Duration in_phase = now - FromProtoTime(green.phase_started_at());
  auto enter = [&](Deployment::Phase phase) {
    updated.set_phase(phase);
    *updated.mutable_phase_started_at() = ToProtoTime(now);
    *updated.mutable_updated_at() = ToProtoTime(now);
  };
  switch (green.phase()) {
    case Deployment::STARTING: {
      // Green at full count beside blue, whatever maximumPercent says; blue
      // keeps all production traffic meanwhile.
      std::vector<deployments::RolloutTask> only_green = green_tasks;
      bool can_start = true;
      if (const absl::Time until = BackoffUntil(service, green, tasks); until > now) {
        RecheckAt(name, until);
        can_start = false;
      }
      const auto plan = deployments::PlanRolling(desired, 100, 200, only_green, can_start);
      for (const auto& id : plan.stop) {
        auto it = v.reason.find(id);
        RETURN_IF_ERROR(StopTasks(&service, {id}, it != v.reason.end() ? it->second : "Scaled in",
                                  v.unhealthy.contains(id)));
      }
      if (plan.start > 0) {
        auto [result, request] = batch.Place(service, green, td, policy, plan.start);
        updated.set_pending_count(pending_green + static_cast<int>(result.placed.size()));
        if (result.unplaced > 0) {
          RecordFailure(name, result.Explain(request, state_->ListNodes().size()));
        }
      }
      if (healthy_green >= desired && desired > 0) {
        if (blue == nullptr) {
          updated.set_phase(Deployment::PHASE_UNSPECIFIED);
          updated.set_traffic_percent(100);
          updated.set_rollout_state(Deployment::COMPLETED);
          events_->Record(name, "", "",
                          absl::StrCat("deployment ", green.id(), " (", green.task_definition(),
                                       ") COMPLETED: ", desired, " healthy task(s)"));
        } else {
          enter(Deployment::SHIFTING);
          updated.set_traffic_percent(deployments::TrafficPercent(settings.traffic, {}));
          events_->Record(name, "", "",
                          absl::StrCat("blue-green: ", desired, " green task(s) of ", green.id(),
                                       " are healthy and on the test port; production traffic "
                                       "on green: ",
                                       updated.traffic_percent(), "%"));
        }
      }
      break;
    }
    case Deployment::SHIFTING:
    case Deployment::BAKING: {
      if (!v.unhealthy.empty() || healthy_green < desired) {
        return fail_back(v.unhealthy.empty() ? absl::StrCat("only ", healthy_green, " of ", desired,
                                                            " green task(s) are healthy")
                                             : "a green task failed its health check");
      }
      if (green.phase() == Deployment::SHIFTING) {
        const int pct = deployments::TrafficPercent(settings.traffic, in_phase);
        if (pct != green.traffic_percent()) {
          updated.set_traffic_percent(pct);
          events_->Record(name, "", "",
                          absl::StrCat("blue-green: production traffic on green: ", pct, "%"));
        }
        if (pct >= 100) {
          enter(Deployment::BAKING);
        } else {
          const absl::Duration interval = FromProtoDuration(settings.traffic.interval());
          // Next step at the next interval boundary.
          const absl::Duration into_step = in_phase - absl::Floor(in_phase, interval);
          RecheckAt(name, now + std::max(absl::Milliseconds(200), interval - into_step));
        }
      } else if (in_phase >= settings.bake_time) {
        enter(Deployment::FINISHING);
        events_->Record(name, "", "",
                        absl::StrCat("blue-green: green baked for ",
                                     absl::FormatDuration(settings.bake_time), "; draining blue"));
      } else {
        RecheckAt(name, FromProtoTime(green.phase_started_at()) + settings.bake_time);
      }
      break;
    }
    case Deployment::FINISHING: {
      std::vector<std::string> blue_ids;
      for (const auto& rt : v.rollout) {
        if (!rt.primary) blue_ids.push_back(rt.id);
      }
      for (const auto& id : blue_ids) {
        RETURN_IF_ERROR(StopTasks(&service, {id},
                                  absl::StrCat("Blue-green: replaced by deployment ", green.id())));
      }
      if (blue_ids.empty()) {
        updated.set_phase(Deployment::PHASE_UNSPECIFIED);
        updated.set_rollout_state(Deployment::COMPLETED);
        *updated.mutable_updated_at() = ToProtoTime(now);
        events_->Record(name, "", "",
                        absl::StrCat("deployment ", green.id(), " (", green.task_definition(),
                                     ") COMPLETED: blue-green switch done"));
      }
      break;
    }
    default:
      break;
  }
  return SaveDeployment(service, updated);
}

}  // namespace gantry::controllers
