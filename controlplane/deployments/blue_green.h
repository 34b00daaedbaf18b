#pragma once

// One step of a blue-green deployment, as a pure function. Green is the
// primary deployment being rolled out; blue is the newest other deployment
// that still has tasks. The phases:
//   STARTING   green starts at its full count beside blue, whatever
//              maximumPercent says (with the replacement backoff); blue keeps
//              all production traffic. Once every green task is healthy the
//              deployment completes (no blue) or starts SHIFTING.
//   SHIFTING   production traffic moves to green by the traffic strategy
//              (allAtOnce, linear, canary); at 100% it is BAKING.
//   BAKING     all traffic on green for the bake time; then FINISHING.
//   FINISHING  blue's tasks stop; when none is left the deployment is
//              COMPLETED.
// While its alarms cannot be evaluated (HeldForAlarms) green holds: it
// starts no tasks, traffic does not move and baking does not end.
// In any phase the circuit breaker or a fired alarm, and during SHIFTING and
// BAKING an unhealthy or missing green task, fail green back: all traffic
// returns to blue (or, without blue, the deployment fails and may roll back).
//
// The caller (controllers::DeploymentRunner) applies the plan: it stops and
// starts the tasks, records the events, asks for the recheck and stores the
// deployment.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout_view.h"
#include "gantry/v1/types.pb.h"

namespace gantry::deployments {

struct BlueGreenPlan {
  struct Stop {
    std::string id;
    std::string reason;
    bool failed = false;  // the task counts as failed (it was unhealthy)
  };
  // Set when green fails back; nothing else in the plan applies then.
  std::string fail_back;
  // The deployment green fails back to; empty when there is none.
  std::string blue;
  // Green as it should be stored: counts, phase and its start, traffic
  // percent, rollout state. Its pending count leaves out the tasks this plan
  // starts.
  gantry::v1::Deployment green;
  std::vector<Stop> stop;
  int start = 0;  // new green tasks
  // STARTING: the plan depends on the replacement backoff, which the caller
  // then announces.
  bool uses_backoff = false;
  std::optional<absl::Time> recheck;  // look again no later than this
  std::vector<std::string> events;    // to record, in order, after the tasks
};

// `view` is ViewTasks() with green in focus. `backoff_until` is when
// replacements of green's failed tasks may start again (in the past: no
// backoff applies).
BlueGreenPlan PlanBlueGreen(const gantry::v1::Service& service, const gantry::v1::Deployment& green,
                            const RolloutView& view, const Settings& settings,
                            absl::Time backoff_until, absl::Time now);

}  // namespace gantry::deployments
