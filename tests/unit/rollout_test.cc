#include "controlplane/deployments/rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_util.h"

namespace gantry::deployments {
namespace {

using ::testing::UnorderedElementsAre;

RolloutTask Old(const std::string& id, bool healthy = true) {
  return {id, "n-" + id, "a", false, true, healthy, true};
}
RolloutTask New(const std::string& id, bool running, bool healthy) {
  return {id, "n-" + id, "b", true, running, healthy, false};
}

TEST(Rollout, Rounding) {
  EXPECT_EQ(MinHealthy(3, 50), 2) << "rounded up";
  EXPECT_EQ(MinHealthy(4, 100), 4);
  EXPECT_EQ(MaxTotal(3, 150), 4) << "rounded down";
  EXPECT_EQ(MaxTotal(3, 100), 3);
  EXPECT_EQ(MaxTotal(3, 50), 3) << "never below the desired count";
}

TEST(Rollout, DefaultsStartAllNewThenStopOldAsNewBecomeHealthy) {
  std::vector<RolloutTask> tasks = {Old("o1"), Old("o2"), Old("o3")};
  auto plan = PlanRolling(3, 100, 200, tasks, true);
  EXPECT_EQ(plan.start, 3);
  EXPECT_TRUE(plan.stop.empty());
  tasks.push_back(New("n1", true, true));
  tasks.push_back(New("n2", true, false));
  tasks.push_back(New("n3", false, false));
  plan = PlanRolling(3, 100, 200, tasks, true);
  EXPECT_EQ(plan.start, 0);
  EXPECT_EQ(plan.stop.size(), 1u) << "one new task is healthy, so one old one may go";
}

TEST(Rollout, MinimumHealthyBelowHundredStopsOldFirstWhenThereIsNoRoom) {
  std::vector<RolloutTask> tasks = {Old("o1"), Old("o2"), Old("o3"), Old("o4")};
  auto plan = PlanRolling(4, 50, 100, tasks, true);
  EXPECT_EQ(plan.stop.size(), 2u);
  EXPECT_EQ(plan.start, 2) << "the room the stops make";
}

TEST(Rollout, NotHealthyOldTasksGoFirst) {
  std::vector<RolloutTask> tasks = {Old("o1"), Old("o2", false), New("n1", true, true)};
  auto plan = PlanRolling(2, 100, 200, tasks, true);
  // Needs 2 healthy: n1 and one old; the unhealthy old one goes.
  EXPECT_THAT(plan.stop, UnorderedElementsAre("o2"));
  EXPECT_EQ(plan.start, 1);
}

TEST(Rollout, AnUnhealthyTaskIsReplacedBeforeItStops) {
  RolloutTask sick = New("n3", true, false);
  sick.leaving = true;
  std::vector<RolloutTask> tasks = {New("n1", true, true), New("n2", true, true), sick};
  auto plan = PlanRolling(3, 100, 200, tasks, true);
  EXPECT_EQ(plan.start, 1);
  EXPECT_TRUE(plan.stop.empty()) << "kept until its replacement is healthy";
  tasks.push_back(New("n4", true, true));
  plan = PlanRolling(3, 100, 200, tasks, true);
  EXPECT_THAT(plan.stop, UnorderedElementsAre("n3"));
}

TEST(Rollout, ScalingInAndBlockedStarts) {
  std::vector<RolloutTask> tasks = {New("n1", true, true), New("n2", true, true),
                                    New("n3", false, false)};
  auto plan = PlanRolling(2, 100, 200, tasks, true);
  EXPECT_THAT(plan.stop, UnorderedElementsAre("n3")) << "not running goes first";
  plan = PlanRolling(5, 100, 200, tasks, false);
  EXPECT_EQ(plan.start, 0) << "backoff or a failed deployment starts nothing";
}

TEST(CircuitBreaker, Threshold) {
  EXPECT_EQ(CircuitBreakerThreshold(1, 0), 3);
  EXPECT_EQ(CircuitBreakerThreshold(10, 0), 5);
  EXPECT_EQ(CircuitBreakerThreshold(1000, 0), 200);
  EXPECT_EQ(CircuitBreakerThreshold(10, 7), 7);
}

TEST(Traffic, Strategies) {
  gantry::v1::DeploymentConfiguration::Traffic t;
  EXPECT_EQ(TrafficPercent(t, absl::ZeroDuration()), 100) << "allAtOnce by default";
  t.set_type("linear");
  t.set_step_percent(25);
  *t.mutable_interval() = ToProtoDuration(absl::Seconds(10));
  EXPECT_EQ(TrafficPercent(t, absl::ZeroDuration()), 25);
  EXPECT_EQ(TrafficPercent(t, absl::Seconds(9)), 25);
  EXPECT_EQ(TrafficPercent(t, absl::Seconds(10)), 50);
  EXPECT_EQ(TrafficPercent(t, absl::Seconds(35)), 100);
  EXPECT_EQ(TrafficPercent(t, absl::Hours(1)), 100);
  t.set_type("canary");
  t.set_percent(10);
  EXPECT_EQ(TrafficPercent(t, absl::Seconds(5)), 10);
  EXPECT_EQ(TrafficPercent(t, absl::Seconds(10)), 100);
}

TEST(Traffic, Weights) {
  EXPECT_EQ(ServerWeight(0, 3), 0);
  EXPECT_EQ(ServerWeight(100, 1), 256);
  EXPECT_EQ(ServerWeight(50, 2), 64);
  EXPECT_EQ(ServerWeight(1, 100), 1) << "a share never rounds to nothing";
}

}  // namespace
}  // namespace gantry::deployments
