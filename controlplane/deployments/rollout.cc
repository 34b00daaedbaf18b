#include "controlplane/deployments/rollout.h"

#include <algorithm>
#include <cmath>

#include "common/time_util.h"
#include "controlplane/scheduler/placement.h"

namespace gantry::deployments {

int MinHealthy(int desired, int min_percent) {
  return std::min(desired, (desired * min_percent + 99) / 100);
}

int MaxTotal(int desired, int max_percent) {
  return std::max(desired, desired * max_percent / 100);
}

RollingPlan PlanRolling(int desired, int min_percent, int max_percent,
                        const std::vector<RolloutTask>& tasks, bool can_start) {
  RollingPlan plan;
  std::vector<scheduler::StopCandidate> serving;
  std::vector<const RolloutTask*> leaving;
  int healthy_serving = 0;
  for (const auto& t : tasks) {
    if (t.primary && !t.leaving) {
      serving.push_back({t.id, t.node, t.zone, t.running});
      healthy_serving += t.healthy ? 1 : 0;
    } else {
      leaving.push_back(&t);
    }
  }
  // More serving tasks than wanted (scaled in): stop the surplus evenly,
  // those not healthy yet first.
  const int surplus = static_cast<int>(serving.size()) - desired;
  if (surplus > 0) {
    plan.stop = scheduler::ChooseTasksToStop(serving, surplus);
    healthy_serving = std::min(healthy_serving, desired);
  }
  // Leaving tasks stay only while the minimum needs them; healthy ones are
  // the ones worth keeping.
  const int keep = std::max(0, MinHealthy(desired, min_percent) - healthy_serving);
  std::stable_sort(leaving.begin(), leaving.end(), [](const RolloutTask* a, const RolloutTask* b) {
    return a->healthy && !b->healthy;
  });
  int kept = 0;
  int moving_kept = 0;
  const int moving_keep = std::max(0, desired - healthy_serving);
  for (const RolloutTask* t : leaving) {
    if (t->replace_first && t->running && moving_kept < moving_keep) {
      moving_kept++;
      continue;
    }
    if (kept < keep && t->healthy) {
      kept++;
      continue;
    }
    if (kept < keep && t->running) {  // may still become healthy
      kept++;
      continue;
    }
    plan.stop.push_back(t->id);
  }
  if (can_start) {
    const int want = std::max(0, desired - static_cast<int>(serving.size()));
    const int live_after = static_cast<int>(tasks.size() - plan.stop.size());
    plan.start = std::min(want, std::max(0, MaxTotal(desired, max_percent) - live_after));
  }
  return plan;
}

int CircuitBreakerThreshold(int desired, int configured) {
  if (configured > 0) return configured;
  return std::clamp((desired + 1) / 2, 3, 200);
}

int TrafficPercent(const gantry::v1::DeploymentConfiguration::Traffic& traffic,
                   absl::Duration elapsed) {
  const absl::Duration interval = FromProtoDuration(traffic.interval());
  if (traffic.type() == "linear" && traffic.step_percent() > 0 && interval > absl::ZeroDuration()) {
    const int64_t steps = 1 + absl::IDivDuration(elapsed, interval, &elapsed);
    return static_cast<int>(std::min<int64_t>(100, steps * traffic.step_percent()));
  }
  if (traffic.type() == "canary" && interval > absl::ZeroDuration()) {
    return elapsed < interval ? std::clamp(traffic.percent(), 0, 100) : 100;
  }
  return 100;
}

int ServerWeight(int percent, int tasks) {
  if (percent <= 0 || tasks <= 0) return 0;
  const double w = 256.0 * percent / 100.0 / tasks;
  return std::clamp(static_cast<int>(std::lround(w)), 1, 256);
}

}  // namespace gantry::deployments
