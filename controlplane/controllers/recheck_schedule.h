#pragma once

// When services want another look although nothing in the state changes:
// a task's deregistration delay ends, a replacement backoff expires, a
// traffic step or the bake time is due, an unreachable registry may answer
// again. One time per service, the earliest asked for. The controller's
// loop takes the due services at each pass and wakes up by the earliest.
//
// Thread-safe. `on_at(when)` runs after every At(), outside the lock, so the
// owner can bring its loop forward.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace gantry::controllers {

class RecheckSchedule {
 public:
  explicit RecheckSchedule(std::function<void(absl::Time when)> on_at = nullptr)
      : on_at_(std::move(on_at)) {}
  RecheckSchedule(const RecheckSchedule&) = delete;
  RecheckSchedule& operator=(const RecheckSchedule&) = delete;

  // Look at `service` again no later than `when` (clock time).
  void At(const std::string& service, absl::Time when);
  // The services due at `now`; they leave the schedule.
  std::set<std::string> TakeDue(absl::Time now);
  // The earliest time asked for, if any.
  std::optional<absl::Time> Earliest() const;
  // The time asked for `service`, if any.
  std::optional<absl::Time> When(const std::string& service) const;

 private:
  const std::function<void(absl::Time)> on_at_;
  mutable Mutex mu_;
  std::map<std::string, absl::Time> when_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gantry::controllers
