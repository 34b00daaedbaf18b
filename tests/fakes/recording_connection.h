#pragma once

// An AgentConnection that keeps what the control plane sends to one agent,
// for tests. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "controlplane/nodes/agent_connection.h"

namespace gantry::testing {

// Records what the control plane sends to one agent.
class RecordingConnection : public nodes::AgentConnection {
 public:
  void Send(const gantry::v1::ControlMessage& m) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sent_.push_back(m);
    }
    cv_.notify_all();
  }
  void Close() override { closed_ = true; }
  std::vector<gantry::v1::ControlMessage> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  // The newest desired set sent, if any.
  std::optional<gantry::v1::DesiredTasks> LastDesired() {
    std::lock_guard<std::mutex> lock(mu_);
    return LastDesiredLocked();
  }
  // Waits until a desired set satisfying `done` was the newest sent; false
  // after a generous real deadline (a hang, not a timing assertion).
  bool WaitForDesired(const std::function<bool(const gantry::v1::DesiredTasks&)>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] {
      auto last = LastDesiredLocked();
      return last.has_value() && done(*last);
    });
  }
  bool closed_ = false;

 private:
  std::optional<gantry::v1::DesiredTasks> LastDesiredLocked() {
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (it->has_desired()) return it->desired();
    }
    return std::nullopt;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<gantry::v1::ControlMessage> sent_;
};

}  // namespace gantry::testing
