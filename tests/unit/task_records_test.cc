// TaskRecords: what a restarted agent remembers of its tasks.

#include "agent/task_records.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/time_util.h"

namespace gantry::agent {
namespace {

namespace fs = std::filesystem;
using gantry::v1::Task;

class TaskRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("gantry-task-records-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static TrackedTask Stopped(const std::string& id) {
    gantry::v1::TaskAssignment a;
    a.set_task_id(id);
    a.set_service("web");
    auto* c = a.add_containers();
    c->set_name("httpd");
    c->set_image("example.org/demo/busybox:1");
    *c->mutable_stop_timeout() = ToProtoDuration(absl::Seconds(7));
    TrackedTask t;
    t.task_id = id;
    t.assignment = a;
    t.containers = ContainersFor(a);
    t.status = Task::STOPPED;
    t.reason = "EssentialContainerExited: essential container httpd exited with code 3";
    t.stopped_at = absl::FromUnixSeconds(1'700'000'100);
    t.stop_reported = true;
    return t;
  }

  static gantry::v1::TaskState StateOf(const TrackedTask& t) {
    gantry::v1::TaskState ts;
    ts.set_task_id(t.task_id);
    ts.set_status(t.status);
    ts.set_reason(t.reason);
    *ts.mutable_stopped_at() = ToProtoTime(t.stopped_at);
    auto* cs = ts.add_containers();
    cs->set_name("httpd");
    cs->set_exited(true);
    cs->set_exit_code(3);
    cs->set_reason("exited");
    return ts;
  }

  fs::path dir_;
};

TEST_F(TaskRecordsTest, ASavedTaskComesBackAfterARestart) {
  {
    TaskRecords records(dir_.string());
    ASSERT_TRUE(records.Load().ok()) << "creates the directory";
    const TrackedTask t = Stopped("t1");
    records.Save(t, StateOf(t));
  }
  TaskRecords records(dir_.string());
  auto loaded = records.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  const TrackedTask& t = (*loaded)[0];
  EXPECT_EQ(t.task_id, "t1");
  ASSERT_TRUE(t.assignment.has_value());
  EXPECT_EQ(t.assignment->service(), "web");
  EXPECT_EQ(t.status, Task::STOPPED);
  EXPECT_EQ(t.reason, "EssentialContainerExited: essential container httpd exited with code 3");
  EXPECT_EQ(t.stopped_at, absl::FromUnixSeconds(1'700'000'100));
  EXPECT_TRUE(t.stop_reported);
  ASSERT_EQ(t.containers.size(), 1u);
  EXPECT_EQ(t.containers[0].id, "t1-httpd");
  EXPECT_EQ(t.containers[0].stop_timeout, absl::Seconds(7));
  EXPECT_TRUE(t.containers[0].exited);
  EXPECT_EQ(t.containers[0].exit_code, 3);
  EXPECT_FALSE(t.containers[0].present) << "not observed yet";
  EXPECT_FALSE(fs::exists(records.PathOf("t1") + ".tmp"));
}

TEST_F(TaskRecordsTest, ATaskKnownOnlyFromLabelsHasNoRecord) {
  TaskRecords records(dir_.string());
  ASSERT_TRUE(records.Load().ok());
  TrackedTask t;
  t.task_id = "ghost";
  records.Save(t, gantry::v1::TaskState());
  EXPECT_FALSE(fs::exists(records.PathOf("ghost")));
}

TEST_F(TaskRecordsTest, ForgettingRemovesTheRecord) {
  TaskRecords records(dir_.string());
  ASSERT_TRUE(records.Load().ok());
  const TrackedTask t = Stopped("t1");
  records.Save(t, StateOf(t));
  ASSERT_TRUE(fs::exists(dir_ / "tasks" / "t1.pb"));
  records.Remove("t1");
  EXPECT_FALSE(fs::exists(dir_ / "tasks" / "t1.pb"));
  EXPECT_TRUE(records.Load()->empty());
}

TEST_F(TaskRecordsTest, AnUnreadableRecordIsSkipped) {
  TaskRecords records(dir_.string());
  ASSERT_TRUE(records.Load().ok());
  const TrackedTask t = Stopped("t1");
  records.Save(t, StateOf(t));
  std::ofstream(dir_ / "tasks" / "broken.pb") << "\xff\xff\xff not a record";
  std::ofstream(dir_ / "tasks" / "notes.txt") << "ignored";
  auto loaded = records.Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].task_id, "t1");
}

TEST_F(TaskRecordsTest, AnUnusableDataDirIsAnErrorNamingTheFlag) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  TaskRecords records((dir_ / "file").string());
  auto loaded = records.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message().rfind("--data-dir: cannot create ", 0), 0u)
      << loaded.status();
}

}  // namespace
}  // namespace gantry::agent
