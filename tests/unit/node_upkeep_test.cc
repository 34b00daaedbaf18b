// NodeUpkeep: log rotation and collection, image garbage collection and
// image reports, all timed by the injected clock.

#include "agent/node_upkeep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/logs/log_paths.h"
#include "tests/fakes/fake_runtime.h"

namespace gantry::agent {
namespace {

namespace fs = std::filesystem;
using gantry::v1::Task;
using ::testing::ElementsAre;

constexpr char kUsed[] = "example.org/demo/used:1";
constexpr char kUnused[] = "example.org/demo/unused:1";

class NodeUpkeepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("gantry-upkeep-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    runtime_.AddImage(kUsed);
    runtime_.AddImage(kUnused);
    ImageManager::Options io;
    io.data_dir = dir_.string();
    io.pull_threads = 0;
    io.keep = 0;
    io.unused_after = absl::Seconds(10);
    images_ = std::make_unique<ImageManager>(&runtime_, &registry_, &clock_, io);
    NodeUpkeep::Options o;
    o.data_dir = dir_.string();
    o.log_max_bytes = 100;
    o.log_retention = absl::Hours(1);
    o.log_cleanup_interval = absl::Minutes(1);
    o.image_gc_interval = absl::Minutes(1);
    o.image_report_interval = absl::Seconds(30);
    upkeep_ = std::make_unique<NodeUpkeep>(
        images_.get(), &clock_, o,
        [this](const gantry::v1::ImageReport& r) { reports_.push_back(r); });
  }
  void TearDown() override { fs::remove_all(dir_); }

  void AddTask(const std::string& id, Task::Status status, const std::string& image) {
    TrackedTask t;
    t.task_id = id;
    t.status = status;
    TrackedContainer c;
    c.name = "httpd";
    c.id = id + "-httpd";
    c.image = image;
    c.present = status == Task::RUNNING;
    c.state = status == Task::RUNNING ? ContainerState::kRunning : ContainerState::kNoTask;
    t.containers.push_back(c);
    tasks_[id] = t;
  }

  std::string WriteLog(const std::string& task, size_t bytes) {
    const std::string path = ContainerLogPath(dir_.string(), task, "httpd");
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << std::string(bytes, 'x');
    return path;
  }

  // Dates a task's log directory `age` before the fake clock's now.
  void Age(const std::string& task, absl::Duration age) {
    const auto when = std::chrono::file_clock::from_sys(
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(
            absl::ToChronoTime(clock_.Now() - age)));
    for (const auto& f : fs::directory_iterator(TaskLogDir(dir_.string(), task))) {
      fs::last_write_time(f.path(), when);
    }
  }

  bool HasLogs(const std::string& task) { return fs::exists(TaskLogDir(dir_.string(), task)); }

  std::vector<std::string> ImageNames() { return runtime_.ImageNames(); }

  fs::path dir_;
  FakeClock clock_;
  FakeRuntime runtime_;
  registry::RegistryClient registry_{registry::RegistryConfig()};
  std::unique_ptr<ImageManager> images_;
  std::unique_ptr<NodeUpkeep> upkeep_;
  std::vector<gantry::v1::ImageReport> reports_;
  TrackedTasks tasks_;
};

TEST_F(NodeUpkeepTest, RotatesLargeLogsOfRunningTasks) {
  AddTask("t1", Task::RUNNING, kUsed);
  AddTask("t2", Task::STOPPED, kUsed);
  const std::string big = WriteLog("t1", 500);
  const std::string small = WriteLog("t3", 50);
  const std::string stopped = WriteLog("t2", 500);
  AddTask("t3", Task::RUNNING, kUsed);
  upkeep_->Run(tasks_, true);
  EXPECT_EQ(fs::file_size(big), 0u) << "emptied in place";
  EXPECT_EQ(fs::file_size(big + ".1"), 500u);
  EXPECT_EQ(fs::file_size(small), 50u);
  EXPECT_FALSE(fs::exists(small + ".1"));
  EXPECT_EQ(fs::file_size(stopped), 500u) << "only running tasks write";
}

TEST_F(NodeUpkeepTest, NothingIsRotatedWithoutAnAnswerFromTheRuntime) {
  AddTask("t1", Task::RUNNING, kUsed);
  const std::string big = WriteLog("t1", 500);
  upkeep_->Run(tasks_, false);
  EXPECT_EQ(fs::file_size(big), 500u);
  EXPECT_TRUE(reports_.empty()) << "nor are images looked at";
}

TEST_F(NodeUpkeepTest, OldLogsOfForgottenTasksGoOnTheClocksSchedule) {
  AddTask("known", Task::STOPPED, kUsed);
  WriteLog("known", 10);
  WriteLog("old", 10);
  WriteLog("recent", 10);
  Age("known", absl::Hours(2));
  Age("old", absl::Hours(2));
  Age("recent", absl::Minutes(30));
  upkeep_->Run(tasks_, false);  // logs are collected whether or not the runtime answers
  EXPECT_TRUE(HasLogs("known")) << "the agent still knows this task";
  EXPECT_FALSE(HasLogs("old"));
  EXPECT_TRUE(HasLogs("recent"));

  // The next look is a minute later on the clock.
  WriteLog("later", 10);
  Age("later", absl::Hours(2));
  upkeep_->Run(tasks_, false);
  EXPECT_TRUE(HasLogs("later"));
  clock_.Advance(absl::Minutes(1));
  upkeep_->Run(tasks_, false);
  EXPECT_FALSE(HasLogs("later"));
}

TEST_F(NodeUpkeepTest, CollectsUnusedImagesEveryIntervalNeverOneATaskNeeds) {
  AddTask("pending", Task::PENDING, kUsed);
  upkeep_->Run(tasks_, true);  // first sight: both count as used now
  EXPECT_THAT(ImageNames(), ElementsAre(kUnused, kUsed));
  clock_.Advance(absl::Seconds(30));
  upkeep_->Run(tasks_, true);
  EXPECT_THAT(ImageNames(), ElementsAre(kUnused, kUsed)) << "unused, but the next GC is not due";
  clock_.Advance(absl::Seconds(30));
  upkeep_->Run(tasks_, true);
  EXPECT_THAT(ImageNames(), ElementsAre(kUsed)) << "a pending task is about to run it";
}

TEST_F(NodeUpkeepTest, ReportsImagesWhenTheyChangeAndEveryReportInterval) {
  NodeUpkeep::Options o;
  o.data_dir = dir_.string();
  o.image_gc_interval = absl::Minutes(1);
  o.image_report_interval = absl::Minutes(10);
  upkeep_ = std::make_unique<NodeUpkeep>(
      images_.get(), &clock_, o,
      [this](const gantry::v1::ImageReport& r) { reports_.push_back(r); });
  AddTask("t1", Task::RUNNING, kUsed);
  upkeep_->Run(tasks_, true);
  ASSERT_EQ(reports_.size(), 1u);
  ASSERT_EQ(reports_[0].images_size(), 2);
  for (const auto& i : reports_[0].images()) EXPECT_EQ(i.in_use(), i.name() == kUsed);
  clock_.Advance(absl::Seconds(30));
  upkeep_->Run(tasks_, true);
  EXPECT_EQ(reports_.size(), 1u) << "nothing changed";
  clock_.Advance(absl::Seconds(30));
  upkeep_->Run(tasks_, true);  // GC removes the unused image
  ASSERT_EQ(reports_.size(), 2u) << "the node's images changed";
  EXPECT_EQ(reports_[1].images_size(), 1);
  clock_.Advance(absl::Minutes(10));
  upkeep_->Run(tasks_, true);
  EXPECT_EQ(reports_.size(), 3u) << "the report interval passed";
}

}  // namespace
}  // namespace gantry::agent
