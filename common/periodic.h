#pragma once

// A loop thread: runs a function at once, then again whenever `interval`
// has passed on the given clock since the last run began, when Wake() is
// called, or at a time asked for with RunBy(). Runs never overlap; a Wake()
// or RunBy() during a run brings on another run right after it (or at the
// asked time), so a change is never missed.
//
// Time is read from the injected clock only. A clock that moves other than
// in real time (a FakeClock in tests) is looked at again at least every
// `max_real_wait` of real time, so advancing it takes effect without a
// Wake().
//
// Thread safety: Wake(), RunBy() and Stop() are thread-safe and may be called
// from the function itself. Stop() joins the thread (not from the function);
// the destructor stops.

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace gantry {

class Periodic {
 public:
  Periodic(const Clock* clock, absl::Duration interval, std::function<void()> fn,
           absl::Duration max_real_wait = absl::Seconds(1));
  // On the real clock.
  Periodic(absl::Duration interval, std::function<void()> fn)
      : Periodic(RealClock::Get(), interval, std::move(fn)) {}
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // The next run starts as soon as the current one (if any) is done.
  void Wake() { RunBy(absl::InfinitePast()); }
  // The next run starts no later than `when` (clock time).
  void RunBy(absl::Time when);
  void Stop();

 private:
  void Loop();

  const Clock* const clock_;
  const absl::Duration interval_;
  const absl::Duration max_real_wait_;
  const std::function<void()> fn_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread thread_;  // last: starts after the rest is ready
};

}  // namespace gantry
