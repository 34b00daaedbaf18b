// Periodic on a fake clock: runs at once, again when the interval has passed
// on the clock (not in real time), on Wake(), and at a time asked for.
// The test waits for runs to happen, never for time to pass.

#include "common/periodic.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace gantry {
namespace {

class Runs {
 public:
  void Count() {
    std::lock_guard<std::mutex> lock(mu_);
    runs_++;
    cv_.notify_all();
  }
  // Waits until at least `n` runs happened; false after a generous real
  // deadline (a hang, not a timing assertion).
  bool AtLeast(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return runs_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int runs_ = 0;
};

constexpr absl::Duration kLookAgain = absl::Milliseconds(1);

TEST(PeriodicTest, RunsAtOnceThenWhenTheClockPassesTheInterval) {
  FakeClock clock;
  Runs runs;
  Periodic loop(
      &clock, absl::Seconds(10), [&] { runs.Count(); }, kLookAgain);
  ASSERT_TRUE(runs.AtLeast(1));
  clock.Advance(absl::Seconds(9));
  // A run that is not due does not happen; a Wake() after it shows the
  // loop was idle, not behind.
  loop.Wake();
  ASSERT_TRUE(runs.AtLeast(2));
  EXPECT_EQ(runs.count(), 2);
  clock.Advance(absl::Seconds(10));
  ASSERT_TRUE(runs.AtLeast(3));
}

TEST(PeriodicTest, RunByBringsTheNextRunForward) {
  FakeClock clock;
  Runs runs;
  Periodic loop(
      &clock, absl::Hours(1), [&] { runs.Count(); }, kLookAgain);
  ASSERT_TRUE(runs.AtLeast(1));
  loop.RunBy(clock.Now() + absl::Seconds(5));
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(runs.AtLeast(2));
  // A later time than the one already asked for changes nothing.
  loop.RunBy(clock.Now() + absl::Hours(2));
  clock.Advance(absl::Hours(1));
  ASSERT_TRUE(runs.AtLeast(3));
}

TEST(PeriodicTest, AWakeDuringARunBringsAnotherRun) {
  FakeClock clock;
  Runs runs;
  std::atomic<Periodic*> self{nullptr};
  int calls = 0;
  Periodic loop(
      &clock, absl::Hours(1),
      [&] {
        // The first run wakes its own loop, as a change noticed mid-pass would.
        if (calls++ == 0) {
          while (self.load() == nullptr) std::this_thread::yield();
          self.load()->Wake();
        }
        runs.Count();
      },
      kLookAgain);
  self.store(&loop);
  ASSERT_TRUE(runs.AtLeast(2));
}

// A clock the test sets, which counts how often it is read, so the test
// can wait until the loop has looked at it again (it is then waiting).
class ReadCountingClock final : public Clock {
 public:
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    reads_++;
    cv_.notify_all();
    return now_;
  }
  void Set(absl::Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }
  // Waits until the clock has been read `n` more times from now.
  bool ReadAgain(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t target = reads_ + n;
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return reads_ >= target; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int64_t reads_ = 0;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

TEST(PeriodicTest, ASlowRunIsFollowedByAWholeIntervalOfRest) {
  ReadCountingClock clock;
  const absl::Time t0 = clock.Now();
  const absl::Duration interval = absl::Milliseconds(1);
  Runs runs;
  std::atomic<bool> first{true};
  Periodic loop(
      &clock, interval,
      [&] {
        if (first.exchange(false)) {
          // The first run takes longer than the interval, in real time and
          // on the clock.
          const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3);
          while (std::chrono::steady_clock::now() < until) std::this_thread::yield();
          clock.Set(t0 + absl::Milliseconds(15));
        }
        runs.Count();
      },
      kLookAgain);
  ASSERT_TRUE(runs.AtLeast(1));
  ASSERT_TRUE(clock.ReadAgain(3));  // the loop is waiting again
  // Due an interval after the slow run ended, not at once.
  EXPECT_EQ(runs.count(), 1);
  clock.Set(t0 + absl::Milliseconds(15) + interval - absl::Nanoseconds(1));
  ASSERT_TRUE(clock.ReadAgain(3));
  EXPECT_EQ(runs.count(), 1);
  clock.Set(t0 + absl::Milliseconds(15) + interval);
  ASSERT_TRUE(runs.AtLeast(2));
}

TEST(PeriodicTest, AClockSetBackMovesTheScheduleWithIt) {
  ReadCountingClock clock;
  const absl::Time t0 = clock.Now();
  Runs runs;
  Periodic loop(
      &clock, absl::Seconds(10), [&] { runs.Count(); }, kLookAgain);
  ASSERT_TRUE(runs.AtLeast(1));
  clock.Set(t0 - absl::Hours(1));   // the wall clock stepped back an hour
  ASSERT_TRUE(clock.ReadAgain(3));  // the loop has seen the step
  clock.Set(t0 - absl::Hours(1) + absl::Seconds(10));
  ASSERT_TRUE(runs.AtLeast(2)) << "the loop waited out the step";
}

TEST(PeriodicTest, StopJoinsAndIsIdempotent) {
  FakeClock clock;
  Runs runs;
  Periodic loop(
      &clock, absl::Seconds(1), [&] { runs.Count(); }, kLookAgain);
  ASSERT_TRUE(runs.AtLeast(1));
  loop.Stop();
  const int after = runs.count();
  clock.Advance(absl::Seconds(5));
  loop.Wake();
  loop.Stop();
  EXPECT_EQ(runs.count(), after);
}

}  // namespace
}  // namespace gantry
