// Periodic on a fake clock: runs at once, again when the interval has passed
// on the clock (not in real time), on Wake(), and at a time asked for.
// The test waits for runs to happen, never for time to pass.

#include "common/periodic.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

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
