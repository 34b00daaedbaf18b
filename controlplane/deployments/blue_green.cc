#include "controlplane/deployments/blue_green.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "controlplane/deployments/rollout.h"

namespace gantry::deployments {

using gantry::v1::Deployment;

namespace {

// What one step works from.
struct Step {
  const Deployment& green;
  const RolloutView& view;
  const Settings& settings;
  absl::Time now;
  int desired = 0;
  int healthy = 0;  // green tasks that serve and are healthy
  std::vector<RolloutTask> green_tasks;
};

// Blue: the newest other deployment that still has tasks.
const Deployment* FindBlue(const gantry::v1::Service& service, const Deployment& green,
                           const RolloutView& view) {
  for (const auto& d : service.deployments()) {
    if (d.id() != green.id() && view.deployments_with_tasks.contains(d.id())) return &d;
  }
  return nullptr;
}

// Green with its counts; tasks that leave count for none of them.
Deployment Counted(Step& step) {
  Deployment d = step.green;
  int running = 0;
  int pending = 0;
  for (const auto& rt : step.view.tasks) {
    if (!rt.primary) continue;
    step.green_tasks.push_back(rt);
    if (rt.leaving) continue;
    step.healthy += rt.healthy ? 1 : 0;
    (rt.running ? running : pending)++;
  }
  d.set_healthy_count(step.healthy);
  d.set_running_count(running);
  d.set_pending_count(pending);
  d.set_failed_count(step.view.failed);
  return d;
}

void Enter(Deployment& d, Deployment::Phase phase, absl::Time now) {
  d.set_phase(phase);
  *d.mutable_phase_started_at() = ToProtoTime(now);
  *d.mutable_updated_at() = ToProtoTime(now);
}

// Why green fails back whatever its phase; empty when it does not.
std::string Judge(const Step& step) {
  const int threshold = CircuitBreakerThreshold(step.desired, step.settings.threshold);
  if (step.settings.breaker && step.view.failed >= threshold) {
    return absl::StrCat("circuit breaker: ", step.view.failed, " task(s) failed (threshold ",
                        threshold, ")");
  }
  return step.green.alarm();
}

// Green at full count beside blue, whatever maximumPercent says; blue keeps
// all production traffic meanwhile.
void PlanStarting(const Step& step, bool has_blue, absl::Time backoff_until, BlueGreenPlan& plan) {
  plan.uses_backoff = true;
  const bool held = HeldForAlarms(step.green);
  const bool can_start = backoff_until <= step.now && !held;
  if (backoff_until > step.now) plan.recheck = backoff_until;
  const auto rolling = PlanRolling(step.desired, 100, 200, step.green_tasks, can_start);
  for (const auto& id : rolling.stop) {
    auto it = step.view.reason.find(id);
    plan.stop.push_back({id, it != step.view.reason.end() ? it->second : "Scaled in",
                         step.view.unhealthy.contains(id)});
  }
  plan.start = rolling.start;
  if (step.healthy < step.desired || step.desired <= 0 || held) return;
  Deployment& green = plan.green;
  if (!has_blue) {
    green.set_phase(Deployment::PHASE_UNSPECIFIED);
    green.set_traffic_percent(100);
    green.set_rollout_state(Deployment::COMPLETED);
    plan.events.push_back(absl::StrCat("deployment ", green.id(), " (", green.task_definition(),
                                       ") COMPLETED: ", step.desired, " healthy task(s)"));
    return;
  }
  Enter(green, Deployment::SHIFTING, step.now);
  green.set_traffic_percent(TrafficPercent(step.settings.traffic, {}));
  plan.events.push_back(absl::StrCat(
      "blue-green: ", step.desired, " green task(s) of ", green.id(),
      " are healthy and on the test port; production traffic on green: ", green.traffic_percent(),
      "%"));
}

void PlanShifting(const Step& step, absl::Duration in_phase, BlueGreenPlan& plan) {
  // Traffic stays where it is; the alarm watcher's next word wakes the
  // controller.
  if (HeldForAlarms(step.green)) return;
  const int pct = TrafficPercent(step.settings.traffic, in_phase);
  if (pct != step.green.traffic_percent()) {
    plan.green.set_traffic_percent(pct);
    plan.events.push_back(absl::StrCat("blue-green: production traffic on green: ", pct, "%"));
  }
  if (pct >= 100) {
    Enter(plan.green, Deployment::BAKING, step.now);
    return;
  }
  const absl::Duration interval = FromProtoDuration(step.settings.traffic.interval());
  // Next step at the next interval boundary.
  const absl::Duration into_step = in_phase - absl::Floor(in_phase, interval);
  plan.recheck = step.now + std::max(absl::Milliseconds(200), interval - into_step);
}

void PlanBaking(const Step& step, absl::Duration in_phase, BlueGreenPlan& plan) {
  if (in_phase < step.settings.bake_time) {
    plan.recheck = FromProtoTime(step.green.phase_started_at()) + step.settings.bake_time;
    return;
  }
  if (HeldForAlarms(step.green)) return;
  Enter(plan.green, Deployment::FINISHING, step.now);
  plan.events.push_back(absl::StrCat("blue-green: green baked for ",
                                     absl::FormatDuration(step.settings.bake_time),
                                     "; draining blue"));
}

void PlanFinishing(const Step& step, BlueGreenPlan& plan) {
  for (const auto& rt : step.view.tasks) {
    if (rt.primary) continue;
    plan.stop.push_back(
        {rt.id, absl::StrCat("Blue-green: replaced by deployment ", step.green.id())});
  }
  if (!plan.stop.empty()) return;
  Deployment& green = plan.green;
  green.set_phase(Deployment::PHASE_UNSPECIFIED);
  green.set_rollout_state(Deployment::COMPLETED);
  *green.mutable_updated_at() = ToProtoTime(step.now);
  plan.events.push_back(absl::StrCat("deployment ", green.id(), " (", green.task_definition(),
                                     ") COMPLETED: blue-green switch done"));
}

}  // namespace

BlueGreenPlan PlanBlueGreen(const gantry::v1::Service& service, const Deployment& green,
                            const RolloutView& view, const Settings& settings,
                            absl::Time backoff_until, absl::Time now) {
  BlueGreenPlan plan;
  Step step{green, view, settings, now, green.desired_count()};
  plan.green = Counted(step);
  const Deployment* blue = FindBlue(service, green, view);
  if (blue != nullptr) plan.blue = blue->id();
  plan.fail_back = Judge(step);
  if (!plan.fail_back.empty()) return plan;
  const absl::Duration in_phase = now - FromProtoTime(green.phase_started_at());
  switch (green.phase()) {
    case Deployment::STARTING:
      PlanStarting(step, blue != nullptr, backoff_until, plan);
      break;
    case Deployment::SHIFTING:
    case Deployment::BAKING:
      if (!view.unhealthy.empty() || step.healthy < step.desired) {
        plan.fail_back = view.unhealthy.empty()
                             ? absl::StrCat("only ", step.healthy, " of ", step.desired,
                                            " green task(s) are healthy")
                             : "a green task failed its health check";
        return plan;
      }
      if (green.phase() == Deployment::SHIFTING) {
        PlanShifting(step, in_phase, plan);
      } else {
        PlanBaking(step, in_phase, plan);
      }
      break;
    case Deployment::FINISHING:
      PlanFinishing(step, plan);
      break;
    default:
      break;
  }
  return plan;
}

}  // namespace gantry::deployments
