#include "agent/images/image_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "tests/fakes/fake_runtime.h"

namespace gantry::agent {
namespace {

using State = ImageManager::State;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kWeb1[] = "127.0.0.1:5000/demo/web:1";
constexpr char kWeb2[] = "127.0.0.1:5000/demo/web:2";

class ImageManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gantry-images-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    runtime_.AddRegistryImage(kWeb1, "sha256:" + std::string(64, '1'));
    runtime_.AddRegistryImage(kWeb2, "sha256:" + std::string(64, '2'));
    ImageManager::Options o;
    o.data_dir = dir_.string();
    o.pull_threads = 0;
    o.keep = 1;
    images_ = std::make_unique<ImageManager>(&runtime_, &registry_, &clock_, o);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  FakeClock clock_;
  FakeRuntime runtime_;
  registry::RegistryClient registry_{registry::RegistryConfig()};
  std::unique_ptr<ImageManager> images_;
};

TEST_F(ImageManagerTest, PullsOnceForManyTasks) {
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kReady);
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t2").state, State::kReady);
  EXPECT_EQ(runtime_.pulls(), 1);
  EXPECT_EQ(images_->DigestOf(kWeb1), "sha256:" + std::string(64, '1'));
}

TEST_F(ImageManagerTest, AlwaysPullsOncePerTask) {
  EXPECT_EQ(images_->Ensure(kWeb1, true, "t1").state, State::kReady);
  EXPECT_EQ(images_->Ensure(kWeb1, true, "t1").state, State::kReady) << "asked again, same task";
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(images_->Ensure(kWeb1, true, "t2").state, State::kReady);
  EXPECT_EQ(runtime_.pulls(), 2);
}

// With a real pull thread: tasks arriving while a pull runs share it.
class ConcurrentPullTest : public ImageManagerTest {
 protected:
  void SetUp() override {
    ImageManagerTest::SetUp();
    ImageManager::Options o;
    o.data_dir = dir_.string();
    o.pull_threads = 1;
    images_ = std::make_unique<ImageManager>(&runtime_, &registry_, &clock_, o);
    runtime_.HoldPulls(true);
  }
  void TearDown() override {
    runtime_.HoldPulls(false);
    images_.reset();
    ImageManagerTest::TearDown();
  }
  // Asks until the answer is no longer "pulling" (the pull thread is done).
  ImageManager::Result Await(const std::string& image, bool always, const std::string& task) {
    ImageManager::Result r{State::kPulling, ""};
    for (int i = 0; i < 10000000 && r.state == State::kPulling; ++i) {
      r = images_->Ensure(image, always, task);
      if (r.state == State::kPulling) std::this_thread::yield();
    }
    return r;
  }
};

TEST_F(ConcurrentPullTest, TasksWaitingForOnePullShareIt) {
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kPulling);
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t2").state, State::kPulling);
  runtime_.HoldPulls(false);
  EXPECT_EQ(Await(kWeb1, false, "t1").state, State::kReady);
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t2").state, State::kReady);
  EXPECT_EQ(runtime_.pulls(), 1);
}

TEST_F(ConcurrentPullTest, PullPolicyAlwaysSharesAPullThatEndsAfterTheTaskAsked) {
  EXPECT_EQ(images_->Ensure(kWeb1, true, "t1").state, State::kPulling);
  EXPECT_EQ(images_->Ensure(kWeb1, true, "t2").state, State::kPulling);
  runtime_.HoldPulls(false);
  EXPECT_EQ(Await(kWeb1, true, "t1").state, State::kReady);
  EXPECT_EQ(images_->Ensure(kWeb1, true, "t2").state, State::kReady);
  EXPECT_EQ(runtime_.pulls(), 1) << "t2 asked while the pull ran: no second pull";
}

TEST_F(ConcurrentPullTest, AFailedPullAnswersEveryTaskThatWaited) {
  EXPECT_EQ(images_->Ensure("127.0.0.1:5000/demo/web:9", false, "t1").state, State::kPulling);
  EXPECT_EQ(images_->Ensure("127.0.0.1:5000/demo/web:9", false, "t2").state, State::kPulling);
  runtime_.HoldPulls(false);
  auto r = Await("127.0.0.1:5000/demo/web:9", false, "t1");
  EXPECT_EQ(r.state, State::kFailed);
  r = images_->Ensure("127.0.0.1:5000/demo/web:9", false, "t2");
  EXPECT_EQ(r.state, State::kFailed);
  EXPECT_EQ(r.error, "pull 127.0.0.1:5000/demo/web:9: manifest unknown");
  EXPECT_EQ(runtime_.pulls(), 1) << "both tasks got the one pull's answer";
  // A task that comes later tries again.
  EXPECT_EQ(Await("127.0.0.1:5000/demo/web:9", false, "t3").state, State::kFailed);
  EXPECT_EQ(runtime_.pulls(), 2);
}

TEST_F(ImageManagerTest, PermanentFailuresAreReportedOnceWithTheRegistrysWords) {
  auto r = images_->Ensure("127.0.0.1:5000/demo/web:9", false, "t1");
  EXPECT_EQ(r.state, State::kFailed);
  EXPECT_EQ(r.error, "pull 127.0.0.1:5000/demo/web:9: manifest unknown");
  // A later task tries again: the registry may have been fixed.
  EXPECT_EQ(images_->Ensure("127.0.0.1:5000/demo/web:9", false, "t2").state, State::kFailed);
  EXPECT_EQ(runtime_.pulls(), 2);
}

TEST_F(ImageManagerTest, TransientFailuresRetryWithBackoffUntilTheTimeout) {
  runtime_.FailPulls(absl::UnavailableError("connection refused"));
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kPulling);
  EXPECT_EQ(runtime_.pulls(), 1);
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kPulling);
  EXPECT_EQ(runtime_.pulls(), 1) << "no retry before the backoff";
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kPulling);
  EXPECT_EQ(runtime_.pulls(), 2);
  clock_.Advance(absl::Seconds(1));
  images_->Ensure(kWeb1, false, "t1");
  EXPECT_EQ(runtime_.pulls(), 2) << "the second wait is two seconds";
  // The registry comes back.
  runtime_.FailPulls(absl::OkStatus());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kReady);

  runtime_.FailPulls(absl::UnavailableError("connection refused"));
  images_->Ensure(kWeb2, false, "t1");
  State s = State::kPulling;
  for (int i = 0; i < 100 && s == State::kPulling; ++i) {
    clock_.Advance(absl::Seconds(30));
    s = images_->Ensure(kWeb2, false, "t1").state;
  }
  EXPECT_EQ(s, State::kFailed);
}

// Retry waits are time that passed: a node's clock set back an hour does
// not hold the next attempt for an hour, nor does one set ahead give up.
TEST_F(ImageManagerTest, AClockStepNeitherDelaysNorEndsRetries) {
  runtime_.FailPulls(absl::UnavailableError("connection refused"));
  images_->Ensure(kWeb1, false, "t1");
  ASSERT_EQ(runtime_.pulls(), 1);
  clock_.Step(-absl::Hours(1));
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kPulling);
  EXPECT_EQ(runtime_.pulls(), 2) << "retried after its one-second backoff";
  clock_.Step(absl::Hours(2));
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(images_->Ensure(kWeb1, false, "t1").state, State::kPulling)
      << "still within the pull timeout: only three seconds passed";
  EXPECT_EQ(runtime_.pulls(), 3);
}

// While it retries, a waiting task is told why: the task's reason says what
// failed and that it will be retried, not only "pulling".
TEST_F(ImageManagerTest, WaitingTasksAreToldWhyThePullIsRetried) {
  runtime_.FailPulls(absl::UnavailableError(
      "cannot connect to 127.0.0.1:5000 (Couldn't connect to server): is the registry running, "
      "and can this host reach it?"));
  const std::string expected =
      "pulling 127.0.0.1:5000/demo/web:1: the last attempt failed: cannot connect to "
      "127.0.0.1:5000 (Couldn't connect to server): is the registry running, and can this host "
      "reach it? Retrying for up to 5m, then the task fails.";
  auto r = images_->Ensure(kWeb1, false, "t1");
  EXPECT_EQ(r.state, State::kPulling);
  EXPECT_EQ(r.error, expected);
  r = images_->Ensure(kWeb1, false, "t2");  // another task waiting for the same pull
  EXPECT_EQ(r.state, State::kPulling);
  EXPECT_EQ(r.error, expected);
  clock_.Advance(absl::Seconds(1));
  runtime_.FailPulls(absl::UnavailableError("HTTP 503"));
  EXPECT_THAT(images_->Ensure(kWeb1, false, "t1").error,
              HasSubstr("the last attempt failed: HTTP 503. Retrying"));
  // The registry is back: ready, and nothing more to explain.
  runtime_.FailPulls(absl::OkStatus());
  clock_.Advance(absl::Seconds(2));
  r = images_->Ensure(kWeb1, false, "t1");
  EXPECT_EQ(r.state, State::kReady);
  EXPECT_EQ(r.error, "");
}

TEST_F(ImageManagerTest, TimeoutMessageSaysWhatHappened) {
  runtime_.FailPulls(absl::UnavailableError("connection refused"));
  ImageManager::Result r;
  images_->Ensure(kWeb1, false, "t1");
  for (int i = 0; i < 100; ++i) {
    clock_.Advance(absl::Seconds(30));
    r = images_->Ensure(kWeb1, false, "t1");
    if (r.state == State::kFailed) break;
  }
  EXPECT_THAT(r.error, HasSubstr("pull 127.0.0.1:5000/demo/web:1: connection refused (gave up"));
}

TEST_F(ImageManagerTest, GarbageCollectionKeepsUsedAndRecentImages) {
  ASSERT_TRUE(images_->Ensure(kWeb1, false, "t1").state == State::kReady);
  ASSERT_TRUE(images_->Ensure(kWeb2, false, "t2").state == State::kReady);
  runtime_.AddImage("old/unused:1");
  images_->MarkUsed({kWeb1, kWeb2});
  images_->CollectGarbage({});  // first sight of old/unused counts as a use
  clock_.Advance(absl::Hours(2));
  images_->MarkUsed({kWeb1});
  // web:1 is in use; web:2 and old/unused were last used two hours ago;
  // keep=1 keeps only the most recent (web:1).
  auto removed = images_->CollectGarbage({kWeb1});
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_THAT(runtime_.ImageNames(), ElementsAre(kWeb1));
  // An image in use is never removed, however old.
  clock_.Advance(absl::Hours(5));
  EXPECT_TRUE(images_->CollectGarbage({kWeb1}).empty());
}

TEST_F(ImageManagerTest, ReportsImagesWithUse) {
  ASSERT_TRUE(images_->Ensure(kWeb1, false, "t1").state == State::kReady);
  images_->MarkUsed({kWeb1});
  auto report = images_->Report({kWeb1});
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0].name(), kWeb1);
  EXPECT_TRUE(report[0].in_use());
  EXPECT_TRUE(report[0].has_last_used());
  EXPECT_GT(report[0].size(), 0);
  const int64_t g = images_->generation();
  ASSERT_TRUE(images_->Ensure(kWeb2, false, "t2").state == State::kReady);
  EXPECT_GT(images_->generation(), g);
}

TEST_F(ImageManagerTest, LastUseSurvivesARestart) {
  ASSERT_TRUE(images_->Ensure(kWeb1, false, "t1").state == State::kReady);
  ASSERT_TRUE(images_->Ensure(kWeb2, false, "t2").state == State::kReady);
  images_->MarkUsed({kWeb1, kWeb2});
  ImageManager::Options o;
  o.data_dir = dir_.string();
  o.pull_threads = 0;
  o.keep = 0;
  ImageManager restarted(&runtime_, &registry_, &clock_, o);
  ASSERT_TRUE(restarted.Recover().ok());
  clock_.Advance(absl::Minutes(90));
  EXPECT_EQ(restarted.CollectGarbage({}).size(), 2u) << "last use was remembered, not reset";
}

}  // namespace
}  // namespace gantry::agent
