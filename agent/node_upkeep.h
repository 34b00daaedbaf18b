#pragma once

// The node's housekeeping around the tasks, run by the agent's loop right
// after each reconciliation pass with the tasks as that pass left them:
//   - container logs over `log_max_bytes` are rotated (copytruncate: the
//     shim keeps appending to the same open file);
//   - log directories of tasks the agent no longer knows are deleted once
//     nothing was written to them for `log_retention` (looked for every
//     `log_cleanup_interval`);
//   - the images running containers use are marked used, unused ones are
//     collected every `image_gc_interval` (never one a task not yet stopped
//     needs), and the node's image list goes to the control plane every
//     `image_report_interval` and as soon as it changes.
// Rotation and images wait for a pass that reached the runtime: without it
// the tasks' containers are not known.
//
// Intervals and the log age cutoff are measured on the injected clock.
// Not thread-safe: Run() is called from the agent's loop thread only.

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "agent/images/image_manager.h"
#include "agent/tracked_task.h"
#include "common/clock.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

class NodeUpkeep {
 public:
  struct Options {
    std::string data_dir;
    int64_t log_max_bytes = 10 << 20;
    // Logs of tasks the agent no longer knows are deleted after this long.
    absl::Duration log_retention = absl::Hours(1);
    absl::Duration log_cleanup_interval = absl::Minutes(1);
    absl::Duration image_gc_interval = absl::Minutes(1);
    absl::Duration image_report_interval = absl::Seconds(30);
  };
  // Receives the node's image list; may be empty (no reports).
  using ImageSink = std::function<void(const gantry::v1::ImageReport&)>;

  NodeUpkeep(ImageManager* images, const Clock* clock, Options options, ImageSink sink);

  // `runtime_observed`: the pass reached the runtime, so `tasks` shows which
  // containers exist and run.
  void Run(const TrackedTasks& tasks, bool runtime_observed);

 private:
  void RotateLogs(const TrackedTask& task) const;
  void ManageImages(const TrackedTasks& tasks, absl::Time now);
  void CollectOldLogs(const TrackedTasks& tasks, absl::Time now) const;

  ImageManager* const images_;
  const Clock* const clock_;
  const Options options_;
  const ImageSink sink_;

  absl::Time next_log_cleanup_ = absl::UnixEpoch();
  absl::Time next_image_gc_ = absl::UnixEpoch();
  absl::Time next_image_report_ = absl::UnixEpoch();
  int64_t reported_image_generation_ = -1;
};

}  // namespace gantry::agent
