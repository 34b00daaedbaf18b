#pragma once

// Where a rolling deployment stands after a step, as a pure function: its
// pending, running, healthy and failed counts, and whether it has rolled
// out (every serving task healthy, at the desired count, nothing leaving).
// A rolled-out deployment completes; with deployment alarms (and unless it
// is a rollback) it first bakes for the bake time, so the alarms watch it
// under full load.
//
// The caller (controllers::DeploymentRunner) records the events, asks for
// the recheck and stores the deployment.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout_view.h"
#include "gantry/v1/types.pb.h"

namespace gantry::deployments {

struct RollingProgress {
  gantry::v1::Deployment primary;  // as it should be stored
  // COMPLETED with every task healthy and none leaving: zone rebalancing
  // may move a task.
  bool settled = false;
  std::optional<absl::Time> recheck;  // baking: look again then
  std::vector<std::string> events;    // to record, in order
};

// `view` is ViewTasks() with `primary` in focus, taken before this step's
// `placed` new tasks (which count as pending).
RollingProgress TrackRolling(const gantry::v1::Service& service,
                             const gantry::v1::Deployment& primary, const RolloutView& view,
                             int placed, const Settings& settings, absl::Time now);

}  // namespace gantry::deployments
