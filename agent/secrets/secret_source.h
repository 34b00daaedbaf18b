#pragma once

// Where the agent gets a task's secret values: the control plane, over the
// node's mutual-TLS channel (SessionSecretSource), or a map in tests. The
// control plane answers only for tasks it placed on this node.
//
// Implementations must be thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

class SecretSource {
 public:
  virtual ~SecretSource() = default;
  // Unavailable when the control plane cannot be reached (try again);
  // other errors are the control plane's refusal.
  virtual absl::StatusOr<gantry::v1::TaskSecrets> Fetch(const std::string& task_id) = 0;
};

}  // namespace gantry::agent
