#pragma once

// Stops tasks by setting their desired status to STOPPED (the agents do the
// rest), with a reason and whether the task counts as failed. Behind a load
// balancer (a service with a load balancer and a deregistration delay) a
// running task first leaves it: the first call marks it deregistered and
// asks for a recheck when the delay ends; a call after that stops it. So
// callers simply call Stop() on every pass until the task is gone. Each
// step is recorded as an event.
//
// Thread-safe as far as the state and the schedule are (each task is one
// compare-and-swap update).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/controllers/recheck_schedule.h"
#include "controlplane/events/event_log.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class TaskStopper {
 public:
  TaskStopper(state::ClusterState* state, events::EventLog* events, const Clock* clock,
              RecheckSchedule* rechecks)
      : state_(state), events_(events), clock_(clock), rechecks_(rechecks) {}

  // Stops the tasks `ids` of `service` (null: the service record is gone, so
  // no load balancer waits). A task already stopping keeps its first reason.
  absl::Status Stop(const gantry::v1::Service* service, const std::vector<std::string>& ids,
                    const std::string& reason, bool failed = false);

 private:
  enum class Outcome { kUnchanged, kDeregistered, kStopped };
  absl::StatusOr<Outcome> StopOne(const std::string& id, const std::string& reason, bool failed,
                                  bool balanced, absl::Duration delay, absl::Time now);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  RecheckSchedule* const rechecks_;
};

}  // namespace gantry::controllers
