// StoppedTaskCollector: ended tasks go after the retention, others stay.

#include "controlplane/controllers/stopped_task_collector.h"

#include "tests/unit/controllers_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;

class StoppedTaskCollectorTest : public ControllersFixture {
 protected:
  Task Ended(const std::string& id, Task::Status last, absl::Duration ago) {
    Task t = WebTask(id, "a1", last);
    t.set_desired_status(Task::STOPPED);
    *t.mutable_stopped_at() = ToProtoTime(clock_.Now() - ago);
    return t;
  }
  controllers::StoppedTaskCollector collector_{state_.get(), &clock_, absl::Hours(1)};
};

TEST_F(StoppedTaskCollectorTest, ForgetsStoppedAndLostTasksPastTheRetention) {
  Put(Ended("old-stopped", Task::STOPPED, absl::Minutes(61)));
  Put(Ended("old-lost", Task::LOST, absl::Minutes(61)));
  Put(Ended("recent", Task::STOPPED, absl::Minutes(59)));
  Put(Ended("stopping", Task::STOPPING, absl::Hours(5)));
  Task wanted = Ended("wanted", Task::STOPPED, absl::Hours(5));
  wanted.set_desired_status(Task::RUNNING);
  Put(wanted);
  collector_.Collect(Tasks(/*include_stopped=*/true));
  EXPECT_FALSE(state_->GetTask("old-stopped").has_value());
  EXPECT_FALSE(state_->GetTask("old-lost").has_value()) << "its node never confirmed the end";
  EXPECT_TRUE(state_->GetTask("recent").has_value());
  EXPECT_TRUE(state_->GetTask("stopping").has_value()) << "not ended yet";
  EXPECT_TRUE(state_->GetTask("wanted").has_value()) << "still wanted";
}

TEST_F(StoppedTaskCollectorTest, NothingToForgetWritesNothing) {
  Put(Ended("recent", Task::STOPPED, absl::Minutes(1)));
  const int64_t rev = store_->Revision();
  collector_.Collect(Tasks(true));
  EXPECT_EQ(store_->Revision(), rev);
}

}  // namespace
}  // namespace gantry::testing
