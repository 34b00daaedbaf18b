#pragma once

// Judges a container's health from its probe results, with ECS semantics:
// UNKNOWN until the first answer; HEALTHY after a passing probe; UNHEALTHY
// after `retries` consecutive failures. Failures within the start period
// do not count, unless a probe has already passed. Pure.

#include "absl/time/time.h"
#include "gantry/v1/types.pb.h"

namespace gantry::agent {

class HealthPolicy {
 public:
  HealthPolicy(int retries, absl::Duration start_period, absl::Time started)
      : retries_(retries), grace_end_(started + start_period) {}

  // Records one probe result; returns true when the status changed.
  bool Record(bool passed, absl::Time at) {
    const auto before = status_;
    if (passed) {
      failures_ = 0;
      passed_once_ = true;
      status_ = gantry::v1::Task::HEALTHY;
    } else if (passed_once_ || at >= grace_end_) {
      if (++failures_ >= retries_) status_ = gantry::v1::Task::UNHEALTHY;
    }
    return status_ != before;
  }

  gantry::v1::Task::Health status() const { return status_; }
  int consecutive_failures() const { return failures_; }

 private:
  const int retries_;
  const absl::Time grace_end_;
  gantry::v1::Task::Health status_ = gantry::v1::Task::UNKNOWN;
  int failures_ = 0;
  bool passed_once_ = false;
};

}  // namespace gantry::agent
