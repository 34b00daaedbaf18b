#pragma once

// The end of a service. A DELETING service has all its tasks stopped (behind
// a load balancer they leave it first) and its record removed, with a
// compare-and-swap on it, once every task has STOPPED or is LOST. Tasks
// whose service record is already gone are stopped as orphans.
//
// Not thread-safe: called from the controller's pass.

#include <vector>

#include "absl/status/status.h"
#include "controlplane/controllers/failure_recorder.h"
#include "controlplane/controllers/task_stopper.h"
#include "controlplane/events/event_log.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class ServiceRemover {
 public:
  ServiceRemover(state::ClusterState* state, events::EventLog* events, TaskStopper* stopper,
                 FailureRecorder* failures)
      : state_(state), events_(events), stopper_(stopper), failures_(failures) {}

  // One pass over a DELETING `service` and its `tasks` (stopped included).
  absl::Status Remove(const gantry::v1::Service& service,
                      const std::vector<gantry::v1::Task>& tasks);
  // Stops the live ones of `tasks`, whose service no longer exists.
  absl::Status StopOrphans(const std::vector<gantry::v1::Task>& tasks);

 private:
  state::ClusterState* const state_;
  events::EventLog* const events_;
  TaskStopper* const stopper_;
  FailureRecorder* const failures_;
};

}  // namespace gantry::controllers
