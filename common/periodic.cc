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
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (when >= next_) return;
    next_ = when;
  }
  cv_.notify_all();
}

void Periodic::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Periodic::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const absl::Time now = clock_->Now();
    if (now < next_) {
      const absl::Duration wait = std::min(next_ - now, max_real_wait_);
      cv_.wait_for(lock, absl::ToChronoNanoseconds(wait));
      continue;
    }
    // Asked-for runs during this one bring the next one forward from here.
    next_ = now + interval_;
    lock.unlock();
    fn_();
    lock.lock();
  }
}

}  // namespace gantry
