#pragma once

// The agent's seam to per-task networking (networkMode task): a network
// namespace and an address per task, its published ports mapped to it.
// CniNetwork drives the CNI plugins; tests use a fake. Attachments are
// recorded on disk, so a restarted agent checks the ones its tasks still
// use and removes the others.
//
// Not thread-safe: the reconciler calls it from its Tick() thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gantry::agent {

struct MappedPort {
  uint32_t host_port = 0;
  uint32_t container_port = 0;
};

struct TaskAttachment {
  std::string netns;    // the task's namespace, for its containers
  std::string address;  // its address in the node's task subnet
};

class TaskNetwork {
 public:
  virtual ~TaskNetwork() = default;
  // Sets up the task's network, or returns the one recorded for it.
  // Unavailable while the node has no task subnet yet (retried); any other
  // error is the plugins' words, and nothing is left half set up.
  virtual absl::StatusOr<TaskAttachment> Attach(const std::string& task_id,
                                                const std::vector<MappedPort>& ports) = 0;
  // Asks the plugins whether a recorded attachment is still as set up.
  virtual absl::Status Check(const std::string& task_id) = 0;
  // Tears the task's network down and forgets it; not an error when there
  // is none.
  virtual absl::Status Detach(const std::string& task_id) = 0;
  // The tasks with a recorded attachment.
  virtual std::vector<std::string> Attached() const = 0;
  virtual std::optional<TaskAttachment> Find(const std::string& task_id) const = 0;
};

}  // namespace gantry::agent
