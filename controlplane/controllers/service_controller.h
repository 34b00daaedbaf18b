#pragma once

// Keeps every service at its desired count of tasks of its resolved task
// definition revision. Level-triggered: each pass compares what the service
// wants with the tasks the state holds and acts idempotently, so a missed
// notification only delays work until the next periodic resync.
//
// One pass over a service:
//   - DELETING: stop every task; remove the record once all have stopped;
//   - too few tasks of the current revision: place and create them (one
//     store transaction per batch);
//   - too many: stop the surplus, keeping the spread even;
//   - tasks of an older revision: stop them as replacements come up, never
//     dropping below the desired count of running tasks (a rolling update
//     with 100% minimum healthy and 200% maximum);
//   - stopped tasks older than the retention period are forgotten.
//
// Thread safety: Reconcile() and ReconcileAll() must not run concurrently
// with each other (the loop thread calls them; tests call them directly).
// MarkDirty() is thread-safe and cheap, so it can run inside state listeners.

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/placement/policy.h"
#include "controlplane/controllers/task_batch.h"
#include "controlplane/events/event_log.h"
#include "controlplane/images/background_resolver.h"
#include "controlplane/images/image_resolver.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class ServiceController {
 public:
  struct Options {
    absl::Duration resync_interval = absl::Seconds(10);
    absl::Duration stopped_task_retention = absl::Hours(1);
    // The same placement failure is repeated in events at most this often.
    absl::Duration placement_event_interval = absl::Minutes(1);
    // Crash-loop backoff: after n failed tasks of the current revision within
    // the window, the next replacement waits base * 2^(n-1), at most max.
    absl::Duration failure_window = absl::Minutes(10);
    absl::Duration backoff_base = absl::Seconds(1);
    absl::Duration backoff_max = absl::Minutes(5);
    // Tags are resolved on a thread of their own, so a slow registry holds
    // back only the deployments that need it. Off: resolved inline (tests).
    bool resolve_in_background = true;
  };

  // `resolver` may be null: images are then run by tag, unpinned.
  ServiceController(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                    Options options, images::ImageResolver* resolver = nullptr);
  ~ServiceController();

  // Placements and pass durations go here; may be null. Set before Start.
  void SetMetrics(metrics::ControlPlaneMetrics* metrics) { metrics_ = metrics; }

  // Starts the loop thread; Stop() joins it.
  void Start();
  void Stop();

  void MarkDirty(const std::set<std::string>& services);
  void MarkAllDirty();

  absl::Status Reconcile(const std::string& service);
  void ReconcileAll();
  // One pass over `service` whose new tasks go into `batch` (committed by
  // the caller with batch.Flush()); Reconcile() is this plus the flush.
  absl::Status ReconcileInto(const std::string& service, TaskBatch& batch);

 private:
  void Loop();
  void ReconcileNames(const std::set<std::string>& names);
  absl::Status ReconcileDeleting(const gantry::v1::Service& service,
                                 const std::vector<gantry::v1::Task>& tasks);
  // The deployment steps (rollouts.cc): moves the service toward its primary
  // deployment, rolling or blue-green, with the circuit breaker.
  absl::Status ReconcileDeployments(gantry::v1::Service& service,
                                    const std::vector<gantry::v1::Task>& tasks, TaskBatch& batch);
  absl::Status StepBlueGreen(gantry::v1::Service& service, gantry::v1::Deployment& green,
                             const gantry::v1::TaskDefinition& td,
                             const scheduler::PlacementPolicy& policy,
                             const std::vector<gantry::v1::Task>& tasks, TaskBatch& batch);
  // Marks the deployment FAILED and, when configured, rolls back to the last
  // COMPLETED one.
  absl::Status FailDeployment(gantry::v1::Service& service, const std::string& deployment_id,
                              const std::string& reason);
  // Writes the deployment's fields (by id) into the stored service.
  absl::Status SaveDeployment(const gantry::v1::Service& service,
                              const gantry::v1::Deployment& deployment);
  // Stops tasks; behind a load balancer a running task first leaves it and
  // stops after the deregistration delay. `service` may be null.
  absl::Status StopTasks(const gantry::v1::Service* service, const std::vector<std::string>& ids,
                         const std::string& reason, bool failed = false);
  void CollectGarbage(const std::vector<gantry::v1::Task>& tasks);
  // Records a failure event unless the same one was recorded recently.
  void RecordFailure(const std::string& service, const std::string& message);
  // Pins the images of the deployment once. Returns false while that is not
  // done (the registry may be unreachable).
  absl::StatusOr<bool> PinImages(gantry::v1::Service& service, gantry::v1::Deployment& deployment,
                                 const gantry::v1::TaskDefinition& td);
  // When replacements of the deployment's failed tasks may start again; now
  // or earlier means no backoff applies.
  absl::Time BackoffUntil(const gantry::v1::Service& service,
                          const gantry::v1::Deployment& deployment,
                          const std::vector<gantry::v1::Task>& tasks);
  void RecheckAt(const std::string& service, absl::Time when);
  // Moves one task toward an even spread over zones when nothing else is
  // going on: a replacement in the emptiest zone, and the task it replaces
  // marked to leave once the replacement runs.
  absl::Status Rebalance(const gantry::v1::Service& service, const gantry::v1::Deployment& primary,
                         const gantry::v1::TaskDefinition& td,
                         const scheduler::PlacementPolicy& policy,
                         const std::vector<gantry::v1::Task>& live, TaskBatch& batch);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  const Options options_;
  images::ImageResolver* const resolver_;
  metrics::ControlPlaneMetrics* metrics_ = nullptr;

  // Last placement failure per service, to avoid repeating it every pass.
  std::map<std::string, std::pair<std::string, absl::Time>> last_failure_;
  // Failure count last announced per service, to report each backoff once.
  std::map<std::string, int> announced_backoff_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> dirty_;
  std::map<std::string, absl::Time> rechecks_;  // clock_ time
  bool all_dirty_ = true;
  bool stop_ = false;
  std::thread thread_;
  // Last, so its thread stops before anything it calls back into goes.
  std::unique_ptr<images::BackgroundResolver> background_;
};

}  // namespace gantry::controllers
