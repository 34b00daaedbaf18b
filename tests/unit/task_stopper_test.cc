// TaskStopper: stops at once without a load balancer; behind one, a running
// task leaves it first and stops after the deregistration delay.

#include "controlplane/controllers/task_stopper.h"

#include <gmock/gmock.h>

#include "tests/unit/controllers_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::Contains;

class TaskStopperTest : public ControllersFixture {
 protected:
  void SetUp() override {
    ControllersFixture::SetUp();
    service_.set_name("web");
    Put(WebTask("aaaaaaaa-1", "a1"));
    Put(WebTask("bbbbbbbb-2", "b1", Task::PENDING));
  }
  void Balance(absl::Duration delay) {
    auto* lb = service_.mutable_load_balancer();
    lb->set_port(8080);
    *lb->mutable_deregistration_delay() = ToProtoDuration(delay);
  }
  gantry::v1::Service service_;
};

TEST_F(TaskStopperTest, StopsAtOnceWithoutALoadBalancer) {
  ASSERT_TRUE(stopper_.Stop(&service_, {"aaaaaaaa-1", "bbbbbbbb-2"}, "Scaled in to 0").ok());
  const Task running = Get("aaaaaaaa-1");
  EXPECT_EQ(running.desired_status(), Task::STOPPED);
  EXPECT_EQ(running.last_status(), Task::STOPPING);
  EXPECT_EQ(running.stopped_reason(), "Scaled in to 0");
  EXPECT_FALSE(running.failed());
  EXPECT_EQ(Get("bbbbbbbb-2").last_status(), Task::PENDING) << "never ran, nothing to stop yet";
  EXPECT_THAT(EventMessages("web"), Contains("stopping task aaaaaaaa: Scaled in to 0"));
  EXPECT_FALSE(rechecks_.When("web").has_value());
}

TEST_F(TaskStopperTest, KeepsTheFirstReasonAndMarksFailures) {
  ASSERT_TRUE(stopper_.Stop(&service_, {"aaaaaaaa-1"}, "Task is UNHEALTHY", true).ok());
  const int64_t rev = store_->Revision();
  ASSERT_TRUE(stopper_.Stop(&service_, {"aaaaaaaa-1"}, "Service deleted").ok());
  EXPECT_EQ(store_->Revision(), rev) << "a stopping task is left alone";
  EXPECT_EQ(Get("aaaaaaaa-1").stopped_reason(), "Task is UNHEALTHY");
  EXPECT_TRUE(Get("aaaaaaaa-1").failed());
}

TEST_F(TaskStopperTest, BehindALoadBalancerARunningTaskLeavesItFirst) {
  Balance(absl::Seconds(2));
  ASSERT_TRUE(stopper_.Stop(&service_, {"aaaaaaaa-1"}, "Scaled in to 1", true).ok());
  Task t = Get("aaaaaaaa-1");
  EXPECT_EQ(t.desired_status(), Task::RUNNING);
  EXPECT_EQ(FromProtoTime(t.deregistered_at()), clock_.Now());
  EXPECT_TRUE(t.failed());
  EXPECT_EQ(rechecks_.When("web"), clock_.Now() + absl::Seconds(2));
  EXPECT_THAT(EventMessages("web"),
              Contains("task aaaaaaaa left the load balancer (Scaled in to 1); stopping it in 2s"));

  // Within the delay: nothing changes, the recheck stays asked for.
  rechecks_.TakeDue(clock_.Now() + absl::Hours(1));
  clock_.Advance(absl::Seconds(1));
  const int64_t rev = store_->Revision();
  ASSERT_TRUE(stopper_.Stop(&service_, {"aaaaaaaa-1"}, "Scaled in to 1").ok());
  EXPECT_EQ(store_->Revision(), rev);
  EXPECT_EQ(rechecks_.When("web"), clock_.Now() + absl::Seconds(1));

  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(stopper_.Stop(&service_, {"aaaaaaaa-1"}, "Scaled in to 1").ok());
  t = Get("aaaaaaaa-1");
  EXPECT_EQ(t.desired_status(), Task::STOPPED);
  EXPECT_EQ(t.last_status(), Task::STOPPING);
}

TEST_F(TaskStopperTest, WhatDoesNotServeTheLoadBalancerStopsAtOnce) {
  Balance(absl::Seconds(2));
  ASSERT_TRUE(stopper_.Stop(&service_, {"bbbbbbbb-2"}, "Scaled in to 1").ok());
  EXPECT_EQ(Get("bbbbbbbb-2").desired_status(), Task::STOPPED) << "not running yet";
  ASSERT_TRUE(stopper_.Stop(nullptr, {"aaaaaaaa-1"}, "Service no longer exists").ok());
  EXPECT_EQ(Get("aaaaaaaa-1").desired_status(), Task::STOPPED) << "no service, no load balancer";
  Balance(absl::ZeroDuration());
  Put(WebTask("cccccccc-3", "c1"));
  ASSERT_TRUE(stopper_.Stop(&service_, {"cccccccc-3"}, "Scaled in to 1").ok());
  EXPECT_EQ(Get("cccccccc-3").desired_status(), Task::STOPPED) << "no delay asked for";
}

TEST_F(TaskStopperTest, AnUnknownTaskIsAnError) {
  EXPECT_FALSE(stopper_.Stop(&service_, {"nosuch"}, "Scaled in").ok());
}

}  // namespace
}  // namespace gantry::testing
