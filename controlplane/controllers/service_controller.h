#pragma once

// Keeps every service at its desired count of tasks of its primary
// deployment. Level-triggered: each pass compares what the service wants
// with the tasks the state holds and acts idempotently, so a missed
// notification only delays work until the next periodic resync.
//
// The controller orchestrates; each job is a class of its own, which the
// controller owns and wires together:
//   - StoppedTaskCollector forgets tasks stopped longer than the retention,
//     and TaskDefinitionCollector old revisions nothing runs (on resyncs);
//   - ServiceRemover stops a DELETING service's tasks and removes its
//     record once they have stopped (and stops orphaned tasks);
//   - SecretPinner and ImagePinner pin the primary deployment's secret
//     versions and image digests first;
//   - DeploymentRunner takes the rolling or blue-green step (the circuit
//     breaker, alarms, rollbacks), placing tasks into the pass's TaskBatch;
//   - ZoneRebalancer moves one task toward even zones once all is settled;
//   - TaskStopper, ReplacementBackoff, FailureRecorder and RecheckSchedule
//     serve them all.
//
// The loop runs on a Periodic on the injected clock: MarkDirty() and
// MarkAllDirty() wake it, a recheck one of the classes asks for brings the
// next pass forward to its time, and every `resync_interval` (clock time)
// a pass covers all services.
//
// Thread safety: Reconcile(), ReconcileInto() and ReconcileAll() must not
// run concurrently with each other (the loop thread calls them; tests call
// them directly). MarkDirty() and MarkAllDirty() are thread-safe and cheap,
// so they can run inside state listeners.

#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic.h"
#include "controlplane/controllers/deployment_runner.h"
#include "controlplane/controllers/failure_recorder.h"
#include "controlplane/controllers/image_pinner.h"
#include "controlplane/controllers/recheck_schedule.h"
#include "controlplane/controllers/replacement_backoff.h"
#include "controlplane/controllers/secret_pinner.h"
#include "controlplane/controllers/service_remover.h"
#include "controlplane/controllers/stopped_task_collector.h"
#include "controlplane/controllers/task_batch.h"
#include "controlplane/controllers/task_stopper.h"
#include "controlplane/controllers/taskdef_collector.h"
#include "controlplane/controllers/zone_rebalancer.h"
#include "controlplane/events/event_log.h"
#include "controlplane/images/image_resolver.h"
#include "controlplane/metrics/cp_metrics.h"
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
  ServiceController(const ServiceController&) = delete;
  ServiceController& operator=(const ServiceController&) = delete;

  // Placements and pass durations go here; may be null. Set before Start.
  void SetMetrics(metrics::ControlPlaneMetrics* metrics) { metrics_ = metrics; }
  // Where deployments find the secrets' current versions; may stay null
  // (every referenced secret then counts as missing). Set before Start.
  void SetSecrets(const secrets::SecretCatalog* catalog) { secret_pinner_.SetCatalog(catalog); }

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
  // One run of the loop: the dirty services, or all of them when asked or
  // when the resync is due.
  void Pass();
  // The next pass no later than `when`, if the loop runs.
  void WakeBy(absl::Time when);
  void ReconcileNames(const std::set<std::string>& names);
  absl::Status ReconcileDeployments(gantry::v1::Service& service,
                                    const std::vector<gantry::v1::Task>& tasks, TaskBatch& batch);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  const Options options_;
  metrics::ControlPlaneMetrics* metrics_ = nullptr;

  RecheckSchedule rechecks_;
  FailureRecorder failures_;
  ReplacementBackoff backoff_;
  TaskStopper stopper_;
  StoppedTaskCollector collector_;
  TaskDefinitionCollector taskdefs_;
  ServiceRemover remover_;
  DeploymentRunner runner_;
  ZoneRebalancer rebalancer_;
  SecretPinner secret_pinner_;

  Mutex mu_;
  std::set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
  bool all_dirty_ ABSL_GUARDED_BY(mu_) = true;
  absl::Time next_resync_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // clock time
  std::unique_ptr<Periodic> loop_ ABSL_GUARDED_BY(mu_);
  // Last, so its resolver thread, which marks services dirty, stops before
  // anything it calls back into goes.
  ImagePinner pinner_;
};

}  // namespace gantry::controllers
