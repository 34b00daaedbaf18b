#pragma once

// The agent's own status checks, as EC2 reports them for an instance:
//   instance: containerd answers, memory and PID pressure are below their
//             thresholds, the agent's data directory is writable, task
//             networking can work (its CNI plugins are there);
//   storage:  free space and free inodes on container storage are above
//             their thresholds.
// Reading the machine is separate from judging the readings, so the
// thresholds are tested on made-up readings.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/runtime/container_runtime.h"
#include "gantry/v1/types.pb.h"

namespace gantry::agent {

struct CheckReadings {
  std::string runtime_error;  // empty: containerd answered
  int64_t memory_total = 0;
  int64_t memory_available = 0;
  int64_t pids = 0;
  int64_t pid_max = 0;
  std::string data_dir_error;  // empty: a test file could be written
  std::string network_error;   // empty: task networking can be set up
  std::string storage_path;
  std::string storage_error;  // empty: statvfs worked
  int64_t disk_total = 0;
  int64_t disk_free = 0;
  int64_t inodes_total = 0;
  int64_t inodes_free = 0;
};

struct CheckThresholds {
  double min_memory_available = 0.05;
  double max_pid_usage = 0.90;
  double min_disk_free = 0.10;
  double min_inodes_free = 0.05;
};

// Returns the "instance" and "storage" checks.
std::vector<gantry::v1::NodeCheck> JudgeChecks(const CheckReadings& readings,
                                               const CheckThresholds& thresholds);

// Where the storage check looks: the configured path when there is one
// (--container-storage), else where the runtime says it keeps containers'
// filesystems; while the runtime does not answer, the last place it named.
// Not thread-safe (the agent's loop owns it).
class StorageLocator {
 public:
  StorageLocator(ContainerRuntime* runtime, std::string configured)
      : runtime_(runtime), configured_(std::move(configured)) {}
  absl::StatusOr<std::string> Path();

 private:
  ContainerRuntime* const runtime_;
  const std::string configured_;
  std::string last_known_;
};

// Reads /proc, statvfs(storage_path), writes a probe file in data_dir and
// pings the runtime. A storage path that is an error fails the storage check
// with it.
CheckReadings ReadChecks(ContainerRuntime* runtime, const std::string& data_dir,
                         const absl::StatusOr<std::string>& storage_path);

}  // namespace gantry::agent
