#pragma once

// Moves a service toward its primary deployment, one step per controller
// pass, by applying the pure planners of deployments/ to the state:
//   - rolling: PlanRolling() under minimumHealthyPercent and maximumPercent
//     (with the replacement backoff), then TrackRolling() for the counts,
//     the bake with alarms and completion; deployments whose tasks are all
//     gone become INACTIVE;
//   - blue-green: PlanBlueGreen() through STARTING, SHIFTING, BAKING and
//     FINISHING, and failing back to blue;
//   - the circuit breaker and fired alarms fail a deployment; a failed
//     deployment rolls back to the last COMPLETED one when configured.
// Tasks are stopped through the TaskStopper (so they leave a load balancer
// first) and placed into the pass's TaskBatch. The runner owns nothing but
// pointers to its collaborators, which the ServiceController owns.
//
// Not thread-safe: called from the controller's pass.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/placement/policy.h"
#include "controlplane/controllers/failure_recorder.h"
#include "controlplane/controllers/recheck_schedule.h"
#include "controlplane/controllers/replacement_backoff.h"
#include "controlplane/controllers/task_batch.h"
#include "controlplane/controllers/task_stopper.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout_view.h"
#include "controlplane/events/event_log.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class DeploymentRunner {
 public:
  DeploymentRunner(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                   FailureRecorder* failures, ReplacementBackoff* backoff, TaskStopper* stopper,
                   RecheckSchedule* rechecks)
      : state_(state),
        events_(events),
        clock_(clock),
        failures_(failures),
        backoff_(backoff),
        stopper_(stopper),
        rechecks_(rechecks) {}

  // Gives a service stored before deployments existed its first one.
  absl::Status StartFirst(const std::string& service);

  // One step of `service` toward `primary`, its primary deployment (images
  // pinned), whose tasks run `td` placed by `policy`; `tasks` are the
  // service's, stopped ones included. Returns whether the service is
  // settled: `primary` COMPLETED, every task healthy, none leaving (zone
  // rebalancing may then move a task).
  absl::StatusOr<bool> Step(const gantry::v1::Service& service,
                            const gantry::v1::Deployment& primary,
                            const gantry::v1::TaskDefinition& td,
                            const scheduler::PlacementPolicy& policy,
                            const std::vector<gantry::v1::Task>& tasks, TaskBatch& batch);

  // Marks the IN_PROGRESS deployment `id` FAILED and, when configured, rolls
  // back to the last COMPLETED one (a new deployment of its definition and
  // image pins).
  absl::Status Fail(const gantry::v1::Service& service, const std::string& id,
                    const std::string& reason);
  // Writes the deployment's fields (by id) into the stored service; the
  // fields only the API changes (desired count, status, alarm) stay.
  absl::Status Save(const gantry::v1::Service& service, const gantry::v1::Deployment& deployment);

 private:
  // The service's tasks as `focus` sees them, with what the state knows of
  // their task definitions and nodes.
  deployments::RolloutView View(const gantry::v1::Service& service,
                                const gantry::v1::Deployment& focus,
                                const std::vector<gantry::v1::Task>& tasks,
                                const deployments::Settings& settings, absl::Time now) const;
  absl::StatusOr<bool> StepRolling(const gantry::v1::Service& service,
                                   const gantry::v1::Deployment& primary,
                                   const gantry::v1::TaskDefinition& td,
                                   const scheduler::PlacementPolicy& policy,
                                   const std::vector<gantry::v1::Task>& tasks, TaskBatch& batch);
  absl::Status StepBlueGreen(const gantry::v1::Service& service,
                             const gantry::v1::Deployment& green,
                             const gantry::v1::TaskDefinition& td,
                             const scheduler::PlacementPolicy& policy,
                             const std::vector<gantry::v1::Task>& tasks, TaskBatch& batch);
  // Green failed: all traffic back on `blue` (by id), which is primary
  // again; without blue, Fail().
  absl::Status FailBack(const gantry::v1::Service& service, const gantry::v1::Deployment& green,
                        const std::string& blue, const std::string& reason);
  // ACTIVE deployments without tasks become INACTIVE.
  absl::Status RetireDrained(const gantry::v1::Service& service,
                             const deployments::RolloutView& view);
  // Places `count` new tasks of `deployment`; records why some could not be.
  scheduler::PlacementResult Place(const gantry::v1::Service& service,
                                   const gantry::v1::Deployment& deployment,
                                   const gantry::v1::TaskDefinition& td,
                                   const scheduler::PlacementPolicy& policy, int count,
                                   TaskBatch& batch);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  FailureRecorder* const failures_;
  ReplacementBackoff* const backoff_;
  TaskStopper* const stopper_;
  RecheckSchedule* const rechecks_;
};

}  // namespace gantry::controllers
