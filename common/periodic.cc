#include "common/periodic.h"

#include <algorithm>
#include <chrono>

namespace gantry {

Periodic::Periodic(const Clock* clock, absl::Duration interval, std::function<void()> fn,
                   absl::Duration max_real_wait)
    : clock_(clock),
      interval_(interval),
      max_real_wait_(max_real_wait),
      fn_(std::move(fn)),
      thread_([this] { Loop(); }) {}

void Periodic::RunBy(absl::Time when) {
  MutexLock lock(&mu_);
  if (when >= next_) return;
  next_ = when;
  cv_.SignalAll();
}

void Periodic::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void Periodic::Loop() {
  MutexLock lock(&mu_);
  while (!stop_) {
    const absl::Time now = clock_->Now();
    if (now < last_seen_ && next_ != absl::InfinitePast()) next_ -= last_seen_ - now;
    last_seen_ = now;
    if (now < next_) {
      cv_.WaitWithTimeout(&mu_, std::min(next_ - now, max_real_wait_));
      continue;
    }
    // A Wake() or RunBy() during the run sets next_ below this.
    next_ = absl::InfiniteFuture();
    const absl::Time start = now;
    const auto real_start = std::chrono::steady_clock::now();
    mu_.Unlock();
    fn_();
    mu_.Lock();
    const absl::Duration real_took =
        absl::FromChrono(std::chrono::steady_clock::now() - real_start);
    const absl::Time done = clock_->Now();
    last_seen_ = done;
    // The interval counts from the start of a run, so a schedule keeps its
    // rate; a run that took longer than the interval (in real time, so a
    // test's jump of a fake clock is not mistaken for one) or during which
    // the clock stepped back counts from its end.
    const absl::Time base = (real_took > interval_ || done < start) ? done : start;
    next_ = std::min(next_, base + interval_);
  }
}

}  // namespace gantry
