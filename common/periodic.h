#pragma once

// A loop thread: runs a function at once, then again whenever `interval`
// has passed on the given clock since the last run began, when Wake() is
// called, or at a time asked for with RunBy(). Runs never overlap, and a run
// that takes longer than the interval (in real time) is followed by a whole
// interval of rest, so a slow pass cannot keep the loop busy; a Wake() or
// RunBy() during a run brings on another run right after it (or at the
// asked time), so a change is never missed.
//
// The schedule is kept on the injected clock only (only the length of a run
// is measured in real time). A clock that moves other than
// in real time (a FakeClock in tests) is looked at again at least every
// `max_real_wait` of real time, so advancing it takes effect without a
// Wake(). A clock that steps backwards (the wall clock set back by NTP or
// by hand) moves the schedule back with it, so no run waits out the step.
//
// Thread safety: Wake(), RunBy() and Stop() are thread-safe and may be called
// from the function itself. Stop() joins the thread (not from the function);
// the destructor stops.

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"

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
  Mutex mu_;
  CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_seen_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // clock time
  std::thread thread_;  // last: starts after the rest is ready
};

}  // namespace gantry
