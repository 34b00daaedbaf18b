#pragma once

// Moves one task of a settled service toward an even spread over zones.
// Only a service whose placement spreads over zones first asks for it, and
// it can be turned off per service (zoneRebalancing: false). When the
// emptiest and the fullest zone where the service may run differ by two
// or more (scheduler::PlanRebalance), a replacement is placed in the
// emptiest zone and the task it replaces, chosen as scale-in would, is
// marked to leave once the replacement is healthy. Only when
// maximumPercent leaves no room for the replacement and
// minimumHealthyPercent allows one task fewer is the task stopped first;
// when neither, the service stays as it is and says why.
//
// Not thread-safe: called from the controller's pass.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/placement/policy.h"
#include "controlplane/controllers/failure_recorder.h"
#include "controlplane/controllers/task_batch.h"
#include "controlplane/controllers/task_stopper.h"
#include "controlplane/events/event_log.h"
#include "controlplane/scheduler/placement.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class ZoneRebalancer {
 public:
  ZoneRebalancer(state::ClusterState* state, events::EventLog* events, FailureRecorder* failures,
                 TaskStopper* stopper)
      : state_(state), events_(events), failures_(failures), stopper_(stopper) {}

  // `live` are the service's tasks with desired status RUNNING; the
  // replacement (if any) goes into `batch` as a task of `primary`.
  absl::Status Rebalance(const gantry::v1::Service& service, const gantry::v1::Deployment& primary,
                         const gantry::v1::TaskDefinition& td,
                         const scheduler::PlacementPolicy& policy,
                         const std::vector<gantry::v1::Task>& live, TaskBatch& batch);

 private:
  // Tasks per zone where the service may run (empty zones included), and
  // the live tasks in those zones as stop candidates.
  std::map<std::string, int> CountZones(const gantry::v1::Service& service,
                                        const scheduler::PlacementPolicy& policy,
                                        const std::vector<gantry::v1::Task>& live,
                                        std::vector<scheduler::StopCandidate>& candidates) const;
  // Marks the task to leave once its replacement is healthy.
  absl::Status Evict(const std::string& task, const std::string& reason);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  FailureRecorder* const failures_;
  TaskStopper* const stopper_;
};

}  // namespace gantry::controllers
