#pragma once

// The lock Gantry's own code uses: std::mutex, named a capability so that
// clang's thread-safety analysis still checks ABSL_GUARDED_BY,
// ABSL_EXCLUSIVE_LOCKS_REQUIRED and ABSL_LOCKS_EXCLUDED against it.
//
// Why not absl::Mutex: ThreadSanitizer only sees the locks it intercepts
// (pthread mutexes and condition variables, which std::mutex and
// std::condition_variable are built on). Debian 12's libabsl is not built
// with TSan, so absl::Mutex locks and unlocks where TSan cannot see it and
// every access it guards would be reported as a race.
//
//   Mutex      Lock(), Unlock().
//   MutexLock  holds a Mutex for its scope, as absl::MutexLock does.
//   CondVar    Wait(), WaitWithTimeout(), WaitWithDeadline() on a held Mutex;
//              Signal(), SignalAll() with or without it. As with
//              absl::CondVar, a wait may end without a signal: wait in a
//              loop that checks what it waits for. There is no Await(): a
//              waiter waits on a CondVar that whatever makes its condition
//              true signals.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gantry {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu` (held), waits for a signal, and takes `mu` again.
  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's
  }

  // As Wait(), for at most `timeout`. True if the wait ended because the
  // timeout passed.
  bool WaitWithTimeout(Mutex* mu, absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (timeout == absl::InfiniteDuration()) {
      Wait(mu);
      return false;
    }
    // std::condition_variable adds the timeout to steady_clock::now(), which
    // overflows for one near the largest or smallest: a negative timeout
    // waits for none, and one longer than a year ends after a year as if
    // woken without a signal.
    const absl::Duration longest = absl::Hours(24 * 365);
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const std::cv_status status = cv_.wait_for(
        lock, absl::ToChronoNanoseconds(std::clamp(timeout, absl::ZeroDuration(), longest)));
    lock.release();  // still held: the caller's
    return status == std::cv_status::timeout && timeout <= longest;
  }

  // As Wait(), until `deadline` (absl::Now() time). True if the wait ended
  // because the deadline passed.
  bool WaitWithDeadline(Mutex* mu, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (deadline == absl::InfiniteFuture()) {
      Wait(mu);
      return false;
    }
    return WaitWithTimeout(mu, deadline - absl::Now());
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace gantry
