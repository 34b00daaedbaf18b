#include "common/periodic.h"

#include <algorithm>

namespace gantry {

Periodic::Periodic(const Clock* clock, absl::Duration interval, std::function<void()> fn,
                   absl::Duration max_real_wait)
    : clock_(clock),
      interval_(interval),
      max_real_wait_(max_real_wait),
      fn_(std::move(fn)),
      thread_([this] { Loop(); }) {}

void Periodic::RunBy(absl::Time when) {
  absl::MutexLock lock(&mu_);
  if (when >= next_) return;
  next_ = when;
  cv_.SignalAll();
}

void Periodic::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void Periodic::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    const absl::Time now = clock_->Now();
    if (now < next_) {
      cv_.WaitWithTimeout(&mu_, std::min(next_ - now, max_real_wait_));
      continue;
    }
    // Asked-for runs during this one bring the next one forward from here.
    next_ = now + interval_;
    mu_.Unlock();
    fn_();
    mu_.Lock();
  }
}

}  // namespace gantry
