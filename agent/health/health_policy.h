#pragma once

// Judges a container's health from its probe results, with ECS semantics:
// UNKNOWN until the first answer; HEALTHY after a passing probe; UNHEALTHY
// after `retries` consecutive failures. Failures within the start period
// do not count, unless a probe has already passed. A policy may start from a
// carried status (what an agent knew before it restarted): HEALTHY then
// needs `retries` failures to turn, as if its last probe had passed, and
// UNHEALTHY a pass. Pure.

#include "absl/time/time.h"
#include "gantry/v1/types.pb.h"

namespace gantry::agent {

class HealthPolicy {
 public:
  HealthPolicy(int retries, absl::Duration start_period, absl::Time started,
               gantry::v1::Task::Health carried = gantry::v1::Task::UNKNOWN)
      : retries_(retries),
        grace_end_(started + start_period),
        status_(carried),
        failures_(carried == gantry::v1::Task::UNHEALTHY ? retries : 0),
        passed_once_(carried != gantry::v1::Task::UNKNOWN) {}

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
  gantry::v1::Task::Health status_;
  int failures_;
  bool passed_once_;
};

}  // namespace gantry::agent
