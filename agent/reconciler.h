#pragma once

// The agent's task engine. It holds the newest desired task set from the
// control plane and, on every Tick(), compares it with what the container
// runtime reports and acts, level-triggered:
//   - a wanted task without containers is created and started;
//   - a task no longer wanted is stopped: SIGTERM, then SIGKILL after its
//     stop timeout, then its containers are removed;
//   - a task whose essential container exited is stopped and reported
//     STOPPED with the reason; it is never restarted here (the control plane
//     decides about replacements);
//   - containers with Gantry labels that belong to no known task are stopped
//     and removed.
// Stop timeouts are measured on the injected clock, so tests drive them
// without sleeping.
//
// Nothing is stopped before the first desired set arrives: a restarted agent
// first re-adopts running containers (Recover) and keeps them running while
// the control plane is unreachable.
//
// Task records are persisted in <data_dir>/tasks so a restart remembers
// tasks that already stopped. Container output goes to
// <data_dir>/logs/<task id>/<container>.log, rotated by size.
//
// Thread safety: SetDesired(), Snapshot() and the accessors are thread-safe;
// Recover() and Tick() must be called from one thread at a time.

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/health/health_monitor.h"
#include "agent/images/image_manager.h"
#include "agent/runtime/container_runtime.h"
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
    int64_t log_max_bytes = 10 << 20;
    // Logs of tasks the agent no longer knows are deleted after this long.
    absl::Duration log_retention = absl::Hours(1);
    absl::Duration image_gc_interval = absl::Minutes(1);
    absl::Duration image_report_interval = absl::Seconds(30);
  };
  // Receives state changes to send to the control plane. Called from
  // Tick() without internal locks held.
  using ReportSink = std::function<void(const gantry::v1::TaskStatusReport&)>;
  // Receives the node's image list every `image_report_interval` and after
  // it changes.
  using ImageSink = std::function<void(const gantry::v1::ImageReport&)>;

  Reconciler(ContainerRuntime* runtime, ImageManager* images, HealthMonitor* health,
             const Clock* clock, Options options, ReportSink sink);
  void SetImageSink(ImageSink sink) { image_sink_ = std::move(sink); }
  // Told of containers that exit on their own; may be null.
  void SetObserver(AgentObserver* observer) { observer_ = observer; }

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

  // Where a container's output goes.
  std::string LogPath(const std::string& task_id, const std::string& container) const;
  std::string LogDir(const std::string& task_id) const;

 private:
  struct Container {
    std::string name;
    std::string id;     // runtime id
    std::string image;  // normalised reference it runs (pinned: name@digest)
    bool essential = true;
    absl::Duration stop_timeout = absl::Seconds(30);
    bool present = false;
    ContainerState state = ContainerState::kNoTask;
    bool exited = false;
    int exit_code = 0;
    std::string reason;
    bool exit_observed = false;  // told the observer
    bool term_sent = false;
    bool kill_sent = false;
    absl::Time deadline;
  };
  struct Record {
    std::string task_id;
    std::optional<gantry::v1::TaskAssignment> assignment;
    gantry::v1::Task::Status status = gantry::v1::Task::PENDING;
    std::vector<Container> containers;
    std::string reason;
    absl::Time started_at = absl::UnixEpoch();
    absl::Time stopped_at = absl::UnixEpoch();
    bool wanted = false;
    bool stop_reported = false;
    std::string last_sent;  // serialized TaskState last sent
  };

  void ApplyDesired(const gantry::v1::DesiredTasks& desired);
  void Refresh(Record& r, const std::map<std::string, ContainerInfo>& infos);
  void Advance(Record& r);
  void StartTask(Record& r);
  void DriveStop(Record& r);
  void AdoptOrphans(const std::map<std::string, ContainerInfo>& infos);
  void RotateLogs(const Record& r);
  // Returns false while images are still being pulled (or after failing
  // the task because one cannot be).
  bool ImagesReady(Record& r);
  void ManageImages();
  // Hands the running containers' health checks to the monitor.
  void SyncHealthChecks();
  void CollectOldLogs();
  gantry::v1::TaskState StateOf(const Record& r) const;
  void Persist(const Record& r) const;
  void Forget(const std::string& task_id);
  std::vector<std::string> Environment(const gantry::v1::TaskAssignment& a) const;
  static std::vector<Container> ContainersFor(const gantry::v1::TaskAssignment& a);

  ContainerRuntime* const runtime_;
  ImageManager* const images_;
  HealthMonitor* const health_;
  const Clock* const clock_;
  const Options options_;
  const ReportSink sink_;
  ImageSink image_sink_;
  AgentObserver* observer_ = nullptr;

  // Guards the desired-set handoff, the sequence and `snapshot_`.
  mutable std::mutex mu_;
  std::optional<gantry::v1::DesiredTasks> pending_;
  int64_t newest_sequence_ = 0;
  int64_t applied_sequence_ = 0;
  bool full_report_ = true;
  int64_t passes_ = 0;
  std::vector<gantry::v1::TaskState> snapshot_;

  // Owned by the Tick() thread.
  bool have_desired_ = false;
  absl::Time next_log_cleanup_ = absl::UnixEpoch();
  absl::Time next_image_gc_ = absl::UnixEpoch();
  absl::Time next_image_report_ = absl::UnixEpoch();
  int64_t reported_image_generation_ = -1;
  std::map<std::string, Record> records_;
};

}  // namespace gantry::agent
