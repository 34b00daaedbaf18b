#pragma once

// Time behind an interface so that controllers, health policies and timers can
// be driven by a simulated clock in tests (no sleeps). RealClock is
// thread-safe; FakeClock is thread-safe and only moves when told to.

#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gantry {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance for production wiring.
  static Clock* Get();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace gantry
