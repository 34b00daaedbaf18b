// TaskReports: agents' task states into the store, and the events they are
// worth.

#include "controlplane/nodes/task_reports.h"

#include <gmock/gmock.h>

#include "common/time_util.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class TaskReportsTest : public NodesFixture {
 protected:
  static gantry::v1::TaskStatusReport Report(const std::string& id, Task::Status status,
                                             const std::string& reason = "") {
    gantry::v1::TaskStatusReport r;
    auto* ts = r.add_tasks();
    ts->set_task_id(id);
    ts->set_status(status);
    ts->set_reason(reason);
    return r;
  }

  nodes::TaskReports reports_{state_.get(), events_.get(), &clock_};
};

TEST_F(TaskReportsTest, RunningThenStoppedOnItsOwnIsAFailure) {
  PutTask("task0001-a", "n1");
  reports_.OnReport("n1", Report("task0001-a", Task::RUNNING));
  auto t = GetTask("task0001-a");
  EXPECT_EQ(t.last_status(), Task::RUNNING);
  EXPECT_EQ(FromProtoTime(t.started_at()), clock_.Now()) << "the agent gave no time";
  EXPECT_THAT(EventMessages(), Contains("task task0001 is RUNNING on n1"));

  clock_.Advance(absl::Seconds(4));
  reports_.OnReport("n1", Report("task0001-a", Task::STOPPED, "Essential container exited"));
  t = GetTask("task0001-a");
  EXPECT_EQ(t.last_status(), Task::STOPPED);
  EXPECT_EQ(t.desired_status(), Task::STOPPED);
  EXPECT_TRUE(t.failed());
  EXPECT_EQ(t.stopped_reason(), "Essential container exited");
  EXPECT_EQ(FromProtoTime(t.stopped_at()), clock_.Now());
  EXPECT_THAT(EventMessages(), Contains("task task0001 STOPPED on n1: Essential container exited"));

  reports_.OnReport("n1", Report("task0001-a", Task::RUNNING));
  EXPECT_EQ(GetTask("task0001-a").last_status(), Task::STOPPED) << "STOPPED is final";
}

TEST_F(TaskReportsTest, AReportFromAnotherNodeIsIgnored) {
  PutTask("t1", "n1", Task::RUNNING, Task::RUNNING);
  reports_.OnReport("n2", Report("t1", Task::STOPPED));
  EXPECT_EQ(GetTask("t1").last_status(), Task::RUNNING);
  EXPECT_TRUE(EventMessages().empty());
}

TEST_F(TaskReportsTest, ATaskBeingStoppedThatStillRunsIsStopping) {
  PutTask("t1", "n1", Task::STOPPED, Task::RUNNING);
  reports_.OnReport("n1", Report("t1", Task::RUNNING));
  EXPECT_EQ(GetTask("t1").last_status(), Task::STOPPING);
}

TEST_F(TaskReportsTest, ALostTaskTakesOnlyItsEnd) {
  PutTask("t1", "n1", Task::STOPPED, Task::LOST);
  reports_.OnReport("n1", Report("t1", Task::RUNNING));
  EXPECT_EQ(GetTask("t1").last_status(), Task::LOST);
  reports_.OnReport("n1", Report("t1", Task::STOPPED));
  EXPECT_EQ(GetTask("t1").last_status(), Task::STOPPED);
  EXPECT_FALSE(GetTask("t1").failed()) << "it was not wanted any more";
}

TEST_F(TaskReportsTest, APinnedDigestStaysAndAnUnpinnedOneIsLearned) {
  auto t = PutTask("t1", "n1");
  t.mutable_containers(0)->set_image_digest("sha256:pinned");
  t.add_containers()->set_name("sidecar");
  Put(state::TaskKey("t1"), t);
  auto report = Report("t1", Task::RUNNING);
  auto* httpd = report.mutable_tasks(0)->add_containers();
  httpd->set_name("httpd");
  httpd->set_image_digest("sha256:other");
  auto* sidecar = report.mutable_tasks(0)->add_containers();
  sidecar->set_name("sidecar");
  sidecar->set_image_digest("sha256:learned");
  sidecar->set_exit_code(0);
  reports_.OnReport("n1", report);
  t = GetTask("t1");
  EXPECT_EQ(t.containers(0).image_digest(), "sha256:pinned");
  EXPECT_EQ(t.containers(1).image_digest(), "sha256:learned");
}

TEST_F(TaskReportsTest, AFullReportEndsMissingTasksStoppedAtOrBeforeItsSequence) {
  PutTask("t1", "n1", Task::STOPPED, Task::STOPPING);
  const int64_t stopped_at = state_->GetTask("t1")->mod_revision;
  gantry::v1::TaskStatusReport report;
  report.set_full(true);
  report.set_sequence(stopped_at - 1);
  reports_.OnReport("n1", report);
  EXPECT_EQ(GetTask("t1").last_status(), Task::STOPPING) << "the agent had not seen the stop yet";
  report.set_sequence(stopped_at);
  reports_.OnReport("n1", report);
  EXPECT_EQ(GetTask("t1").last_status(), Task::STOPPED);
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("task t1 STOPPED on n1")));
}

TEST_F(TaskReportsTest, APartialReportEndsNothing) {
  PutTask("t1", "n1", Task::STOPPED, Task::STOPPING);
  gantry::v1::TaskStatusReport report;
  report.set_sequence(store_->Revision());
  reports_.OnReport("n1", report);
  EXPECT_EQ(GetTask("t1").last_status(), Task::STOPPING);
}

TEST_F(TaskReportsTest, ARegistrationIsAFullReportWhateverItsSequence) {
  PutTask("gone", "n1", Task::STOPPED, Task::STOPPING);
  PutTask("kept", "n1", Task::STOPPED, Task::STOPPING);
  PutTask("wanted", "n1", Task::RUNNING, Task::RUNNING);
  gantry::v1::TaskStatusReport listed = Report("kept", Task::RUNNING);
  reports_.OnRegistration("n1", listed.tasks());
  EXPECT_EQ(GetTask("gone").last_status(), Task::STOPPED);
  EXPECT_EQ(GetTask("kept").last_status(), Task::STOPPING);
  EXPECT_EQ(GetTask("wanted").last_status(), Task::RUNNING)
      << "only tasks the control plane stopped end by being missing";
  EXPECT_THAT(EventMessages(), Not(Contains(HasSubstr("wanted"))));
}

}  // namespace
}  // namespace gantry::testing

namespace gantry::testing {
namespace {

class TaskAddressReportsTest : public NodesFixture {
 protected:
  nodes::TaskReports reports_{state_.get(), events_.get(), &clock_};
};

TEST_F(TaskAddressReportsTest, OnlyAnAddressInTheNodesSubnetIsKept) {
  auto n = PutNode("n1", "a");
  n.set_task_subnet("10.200.3.0/24");
  Put(state::NodeKey("n1"), n);
  PutWebTaskDefinition();
  PutTask("t1", "n1");
  gantry::v1::TaskStatusReport report;
  auto* ts = report.add_tasks();
  ts->set_task_id("t1");
  ts->set_status(Task::RUNNING);
  ts->set_address("10.200.9.9");  // another node's: would join its rules
  reports_.OnReport("n1", report);
  EXPECT_EQ(GetTask("t1").address(), "");
  ts->set_address("10.200.3.7");
  reports_.OnReport("n1", report);
  EXPECT_EQ(GetTask("t1").address(), "10.200.3.7");
}

}  // namespace
}  // namespace gantry::testing
