#pragma once

// An HAProxy that records the configurations it was given and the runtime
// API commands it was sent, in order, and fails Apply() or commands when
// told to (a failed Apply() keeps the configuration it had, as the real one
// does). "Starts" on the first successful Apply(). Thread-safe: the
// Balancer's loop drives it while the test looks.

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "lb/haproxy_control.h"

namespace gantry::testing {

class FakeHaproxy : public lb::HaproxyControl {
 public:
  static constexpr int kPid = 4242;

  absl::Status Apply(const std::string& config) override {
    std::lock_guard<std::mutex> lock(mu_);
    attempts_++;
    if (!apply_error_.ok()) return apply_error_;
    configs_.push_back(config);
    running_ = true;
    return absl::OkStatus();
  }
  absl::Status Command(const std::string& command) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failing_command_.empty() && absl::StrContains(command, failing_command_)) {
      return absl::InternalError("No such server.");
    }
    commands_.push_back(command);
    return absl::OkStatus();
  }
  void Stop() override {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    stops_++;
  }
  int pid() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return running_ ? kPid : -1;
  }

  // Apply() fails with `status` until told OkStatus().
  void FailApply(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    apply_error_ = std::move(status);
  }
  // Commands containing `part` fail (as HAProxy answers an unknown server)
  // until told "".
  void FailCommands(std::string part) {
    std::lock_guard<std::mutex> lock(mu_);
    failing_command_ = std::move(part);
  }

  // Configurations taken, oldest first.
  std::vector<std::string> configs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return configs_;
  }
  // Commands that succeeded, oldest first.
  std::vector<std::string> commands() const {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }
  // Apply() calls, failed ones included.
  int attempts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  int stops() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stops_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> configs_;
  std::vector<std::string> commands_;
  absl::Status apply_error_;
  std::string failing_command_;
  bool running_ = false;
  int attempts_ = 0;
  int stops_ = 0;
};

}  // namespace gantry::testing
