#pragma once

// An AgentConnection that keeps what the control plane sends to one agent,
// for tests. Thread-safe.

#include <mutex>
#include <optional>
#include <vector>

#include "controlplane/nodes/agent_connection.h"

namespace gantry::testing {

// Records what the NodeManager sends to one agent.
class RecordingConnection : public nodes::AgentConnection {
 public:
  void Send(const gantry::v1::ControlMessage& m) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back(m);
  }
  void Close() override { closed_ = true; }
  std::vector<gantry::v1::ControlMessage> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  // The newest desired set sent, if any.
  std::optional<gantry::v1::DesiredTasks> LastDesired() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (it->has_desired()) return it->desired();
    }
    return std::nullopt;
  }
  bool closed_ = false;

 private:
  std::mutex mu_;
  std::vector<gantry::v1::ControlMessage> sent_;
};

}  // namespace gantry::testing
