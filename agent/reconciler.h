#pragma once

// The agent's task engine. It holds the newest desired task set from the
// control plane and, on every Tick(), compares it with what the container
// runtime reports and acts, level-triggered:
//   - a wanted task without containers is created and started (TaskStarter,
//     once the ImageManager has its images);
//   - a task no longer wanted is stopped: SIGTERM, then SIGKILL after its
//     stop timeout, then its containers are removed;
//   - a task whose essential container exited is stopped and reported
//     STOPPED with the reason; it is never restarted here (the control plane
//     decides about replacements);
//   - containers with Gantry labels that belong to no known task are stopped
//     and removed.
// Each pass then tells the HealthMonitor which containers to probe, reports
// what changed (everything after a new desired set) and forgets stopped
// tasks the control plane no longer wants once their stop was reported.
// Stop timeouts are measured on the injected clock, so tests drive them
// without sleeping.
//
// Nothing is stopped before the first desired set arrives: a restarted agent
// first re-adopts running containers (Recover) and keeps them running while
// the control plane is unreachable. TaskRecords keeps every assigned task on
// disk so a restart remembers the ones that already stopped. Logs, images
// and other upkeep belong to NodeUpkeep, which reads tasks() after a pass.
//
// Thread safety: SetDesired(), NewSession(), RequestFullReport(), Snapshot()
// and the counters are thread-safe; Recover(), Tick(), tasks() and
// runtime_observed() belong to one thread (the agent's loop).

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "agent/container_specs.h"
#include "agent/health/health_monitor.h"
#include "agent/images/image_manager.h"
#include "agent/metrics/observer.h"
#include "agent/runtime/container_runtime.h"
#include "agent/secrets/secret_files.h"
#include "agent/secrets/secret_provider.h"
#include "agent/task_records.h"
#include "agent/task_starter.h"
#include "agent/tracked_task.h"
#include "common/clock.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

class Reconciler {
 public:
  struct Options {
    std::string data_dir;
    std::string node_name;
    std::string zone;
    std::string node_address;
    std::string netns_path;
    // Secret files (secrets/secret_files.h); empty: DATA_DIR/secrets.
    std::string secrets_dir;
    // False only in tests that cannot mount a tmpfs.
    bool secrets_on_tmpfs = true;
  };
  // Receives state changes to send to the control plane. Called from
  // Tick() without internal locks held.
  using ReportSink = std::function<void(const gantry::v1::TaskStatusReport&)>;

  Reconciler(ContainerRuntime* runtime, ImageManager* images, HealthMonitor* health,
             const Clock* clock, Options options, ReportSink sink);
  // Told of containers that exit on their own and of forgotten tasks; may be
  // null. Set before Recover().
  void SetObserver(AgentObserver* observer) { observer_ = observer; }
  // Where tasks' secret values come from; without one a task that
  // references a secret fails to start. Set before Recover().
  void SetSecretSource(SecretSource* source) { secret_provider_.SetSource(source); }
  // Where tasks in networkMode task get their network (may be null: they
  // then fail to start). Set before Recover().
  void SetTaskNetwork(TaskNetwork* network) {
    network_ = network;
    starter_.SetNetwork(network);
  }

  // Loads persisted records and adopts the runtime's containers.
  absl::Status Recover();
  // Returns false (and changes nothing) for a set older than the newest one
  // of the current session.
  bool SetDesired(const gantry::v1::DesiredTasks& desired);
  // A new stream to the control plane: sequences start over.
  void NewSession();
  // One reconciliation pass.
  void Tick();

  // Every task the agent knows, for registration.
  std::vector<gantry::v1::TaskState> Snapshot() const;
  int64_t applied_sequence() const;
  // Completed Tick() passes (tests use it to wait for a whole pass).
  int64_t passes() const;
  // Asks the next Tick() to send a full report.
  void RequestFullReport();

  // The tasks as the last pass left them, and whether it reached the
  // runtime. Tick() thread only.
  const TrackedTasks& tasks() const { return tasks_; }
  bool runtime_observed() const { return runtime_observed_; }

  // Where a container's output goes.
  std::string LogPath(const std::string& task_id, const std::string& container) const;
  std::string LogDir(const std::string& task_id) const;

 private:
  // Takes the desired set handed over since the last pass, if any.
  std::optional<gantry::v1::DesiredTasks> TakeDesired(bool& full_report);
  void ApplyDesired(const gantry::v1::DesiredTasks& desired);
  // Lists the runtime's containers and updates every task's view of them;
  // false when the runtime did not answer.
  bool Observe();
  void Refresh(TrackedTask& r, const std::map<std::string, ContainerInfo>& infos);
  void AdoptOrphans(const std::map<std::string, ContainerInfo>& infos);
  // Stops first, then starts whose host ports no stopping task holds.
  void AdvanceAll();
  void Advance(TrackedTask& r);
  void AdvancePending(TrackedTask& r);
  void AdvanceRunning(TrackedTask& r);
  void DriveStop(TrackedTask& r);
  // What changed since the last report (everything when `full`); persists
  // changed records and forgets what may be forgotten.
  gantry::v1::TaskStatusReport Report(bool full);
  void Forget(const std::string& task_id);
  // Once a desired set is known, every pass: remove the networks no task
  // uses (a failed Detach is so retried); on the first pass also CHECK the
  // networks of adopted tasks (a failed one stops its task).
  void ReconcileNetworks();
  void Persist(const TrackedTask& r);
  gantry::v1::TaskState StateOf(const TrackedTask& r) const;

  ContainerRuntime* const runtime_;
  ImageManager* const images_;
  HealthMonitor* const health_;
  const Clock* const clock_;
  const Options options_;
  const TaskHost host_;
  const ReportSink sink_;
  const TaskRecords records_;
  SecretFiles secret_files_;
  SecretProvider secret_provider_;
  TaskStarter starter_;
  AgentObserver* observer_ = nullptr;
  TaskNetwork* network_ = nullptr;
  bool networks_reconciled_ = false;

  mutable std::mutex mu_;
  std::optional<gantry::v1::DesiredTasks> pending_ ABSL_GUARDED_BY(mu_);
  int64_t newest_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // Never goes back, across sessions: a replaced leader is not obeyed.
  int64_t newest_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t applied_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool full_report_ ABSL_GUARDED_BY(mu_) = true;
  int64_t passes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<gantry::v1::TaskState> snapshot_ ABSL_GUARDED_BY(mu_);

  // Owned by the Tick() thread.
  bool have_desired_ = false;
  bool runtime_observed_ = false;
  TrackedTasks tasks_;
};

}  // namespace gantry::agent
