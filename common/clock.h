#pragma once

// Time behind an interface so that controllers, health policies and timers can
// be driven by a simulated clock in tests (no sleeps). RealClock is
// thread-safe; FakeClock is thread-safe and only moves when told to.
//
// Now() is the wall clock: what timestamps in records and events show. It
// steps when an operator or NTP sets the time. Monotonic() never steps; only
// differences between its values mean anything, and they are what "how long
// since" questions (liveness, grace periods) must use, so that a clock set an
// hour ahead does not make every node look silent for an hour.

#include <chrono>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gantry {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Never steps; meaningful only in differences. Defaults to Now() for
  // clocks that cannot step.
  virtual absl::Time Monotonic() const { return Now(); }
  // The wall-clock time of `monotonic`, an earlier Monotonic() value.
  absl::Time WallTimeOf(absl::Time monotonic) const { return Now() - (Monotonic() - monotonic); }
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Time Monotonic() const override {
    return absl::UnixEpoch() +
           absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }
  // A process-wide instance for production wiring.
  static Clock* Get();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start), monotonic_(start) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  absl::Time Monotonic() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return monotonic_;
  }
  // Time passes.
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    monotonic_ += d;
  }
  // The wall clock is set `d` ahead (or back, when negative); no time passes.
  void Step(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
  absl::Time monotonic_;
};

}  // namespace gantry
