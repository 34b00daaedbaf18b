#pragma once

// What the agent's parts tell its metrics as things happen. The reconciler,
// the health monitor and the image manager hold an optional observer, so
// they stay free of any metrics library; AgentMetrics implements it.
// Implementations must be thread-safe.

#include <string>

#include "absl/time/time.h"

namespace gantry::agent {

class AgentObserver {
 public:
  virtual ~AgentObserver() = default;
  // A container exited without the agent asking it to.
  virtual void ContainerExited(const std::string& service, const std::string& task,
                               const std::string& container) = 0;
  virtual void HealthChecked(const std::string& service, const std::string& task,
                             const std::string& container, bool passed, absl::Duration took) = 0;
  virtual void ImagePulled(bool ok, absl::Duration took) = 0;
  // The agent no longer keeps the task: its series can go.
  virtual void TaskForgotten(const std::string& task) = 0;
};

}  // namespace gantry::agent
