#include "controlplane/deployments/rolling_progress.h"

#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace gantry::deployments {

using gantry::v1::Deployment;

RollingProgress TrackRolling(const gantry::v1::Service& service, const Deployment& primary,
                             const RolloutView& view, int placed, const Settings& settings,
                             absl::Time now) {
  RollingProgress p;
  Deployment& d = p.primary;
  d = primary;
  // Tasks placed in this step are pending already.
  int pending = placed, running = 0, healthy = 0, leaving = 0, serving = placed;
  for (const auto& rt : view.tasks) {
    if (rt.leaving || !rt.primary) {
      leaving++;
      continue;
    }
    serving++;
    pending += rt.running ? 0 : 1;
    running += rt.running ? 1 : 0;
    healthy += rt.healthy ? 1 : 0;
  }
  d.set_pending_count(pending);
  d.set_running_count(running);
  d.set_healthy_count(healthy);
  d.set_failed_count(view.failed);
  const int desired = d.desired_count();
  const bool gated =
      !service.deployment_configuration().alarms().rules().empty() && d.rollback_of().empty();
  const bool rolled_out = d.rollout_state() == Deployment::IN_PROGRESS && healthy >= desired &&
                          serving == desired && leaving == 0;
  bool baked = true;
  if (rolled_out && gated) {
    if (d.phase() != Deployment::BAKING) {
      d.set_phase(Deployment::BAKING);
      *d.mutable_phase_started_at() = ToProtoTime(now);
      p.events.push_back(absl::StrCat("deployment ", d.id(), " rolled out; baking for ",
                                      absl::FormatDuration(settings.bake_time),
                                      " while its alarms are watched"));
    }
    const absl::Time until = FromProtoTime(d.phase_started_at()) + settings.bake_time;
    baked = now >= until && !HeldForAlarms(d);
    if (now < until) p.recheck = until;
  }
  if (rolled_out && baked) {
    d.clear_phase();
    d.set_rollout_state(Deployment::COMPLETED);
    d.set_rollout_state_reason("");
    *d.mutable_updated_at() = ToProtoTime(now);
    p.events.push_back(absl::StrCat("deployment ", d.id(), " (", d.task_definition(),
                                    ") COMPLETED: ", desired, " healthy task(s)"));
  }
  p.settled = d.rollout_state() == Deployment::COMPLETED && leaving == 0 && healthy == desired;
  return p;
}

}  // namespace gantry::deployments
