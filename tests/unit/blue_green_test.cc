// PlanBlueGreen() on hand-made views: every phase and transition, the
// traffic strategies, the rechecks, and every way green fails back.

#include "controlplane/deployments/blue_green.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_util.h"

namespace gantry::deployments {
namespace {

using gantry::v1::Deployment;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

RolloutTask Blue(const std::string& id) { return {id, "n-" + id, "a", false, true, true, true}; }
RolloutTask Green(const std::string& id, bool running = true, bool healthy = true) {
  return {id, "n-" + id, "b", true, running, healthy, false};
}

class BlueGreenTest : public ::testing::Test {
 protected:
  BlueGreenTest() {
    auto* green = service_.add_deployments();
    green->set_id("d2");
    green->set_task_definition("web:2");
    green->set_status(Deployment::PRIMARY);
    green->set_rollout_state(Deployment::IN_PROGRESS);
    green->set_strategy("blueGreen");
    green->set_desired_count(3);
    green->set_phase(Deployment::STARTING);
    *green->mutable_phase_started_at() = ToProtoTime(kStart);
    auto* blue = service_.add_deployments();
    blue->set_id("d1");
    blue->set_task_definition("web:1");
    blue->set_status(Deployment::ACTIVE);
    blue->set_rollout_state(Deployment::COMPLETED);
    blue->set_traffic_percent(100);
    settings_.blue_green = true;
    settings_.traffic.set_type("linear");
    settings_.traffic.set_step_percent(50);
    *settings_.traffic.mutable_interval() = ToProtoDuration(absl::Seconds(10));
    settings_.bake_time = absl::Seconds(5);
  }
  Deployment& green() { return *service_.mutable_deployments(0); }
  void InPhase(Deployment::Phase phase, int traffic = 0) {
    green().set_phase(phase);
    green().set_traffic_percent(traffic);
  }
  // Blue's three tasks plus `green` tasks.
  void Tasks(std::vector<RolloutTask> green, bool with_blue = true) {
    view_ = {};
    if (with_blue) {
      for (const auto& id : {"b1", "b2", "b3"}) {
        view_.tasks.push_back(Blue(id));
        view_.reason[id] = "Replaced by deployment d2 (web:2)";
      }
      view_.deployments_with_tasks.insert("d1");
    }
    for (const auto& t : green) {
      view_.tasks.push_back(t);
      view_.deployments_with_tasks.insert("d2");
    }
  }
  BlueGreenPlan Plan(absl::Duration after, absl::Time backoff_until = absl::InfinitePast()) {
    return PlanBlueGreen(service_, green(), view_, settings_, backoff_until, kStart + after);
  }

  gantry::v1::Service service_;
  Settings settings_;
  RolloutView view_;
};

TEST_F(BlueGreenTest, StartingStartsGreenAtFullCountBesideBlue) {
  Tasks({});
  const auto plan = Plan(absl::ZeroDuration());
  EXPECT_TRUE(plan.fail_back.empty());
  EXPECT_EQ(plan.blue, "d1");
  EXPECT_EQ(plan.start, 3);
  EXPECT_THAT(plan.stop, IsEmpty()) << "blue keeps running and serving";
  EXPECT_EQ(plan.green.phase(), Deployment::STARTING);
  EXPECT_EQ(plan.green.traffic_percent(), 0);
  EXPECT_TRUE(plan.uses_backoff);
  EXPECT_FALSE(plan.recheck.has_value());
  EXPECT_THAT(plan.events, IsEmpty());
}

TEST_F(BlueGreenTest, StartingIgnoresMaximumPercent) {
  settings_.max_percent = 100;
  settings_.min_percent = 50;
  Tasks({Green("g1")});
  EXPECT_EQ(Plan(absl::ZeroDuration()).start, 2) << "full count beside blue";
}

TEST_F(BlueGreenTest, StartingWaitsOutTheReplacementBackoff) {
  Tasks({Green("g1")});
  const auto plan = Plan(absl::Seconds(1), kStart + absl::Seconds(4));
  EXPECT_EQ(plan.start, 0);
  EXPECT_EQ(plan.recheck, kStart + absl::Seconds(4));
  EXPECT_TRUE(plan.uses_backoff);
  // A backoff that has passed holds nothing back.
  EXPECT_EQ(Plan(absl::Seconds(4), kStart + absl::Seconds(4)).start, 2);
}

TEST_F(BlueGreenTest, StartingCountsGreenTasksAndLeavesOutTheLeavingOnes) {
  auto leaving = Green("g4", true, false);
  leaving.leaving = true;
  Tasks({Green("g1"), Green("g2", true, false), Green("g3", false, false), leaving});
  view_.failed = 1;
  const auto plan = Plan(absl::Seconds(1));
  EXPECT_EQ(plan.green.healthy_count(), 1);
  EXPECT_EQ(plan.green.running_count(), 2);
  EXPECT_EQ(plan.green.pending_count(), 1) << "without the tasks the plan starts";
  EXPECT_EQ(plan.green.failed_count(), 1);
  EXPECT_EQ(plan.green.phase(), Deployment::STARTING);
}

TEST_F(BlueGreenTest, StartingReplacesUnhealthyGreenAndStopsSurplus) {
  auto unhealthy = Green("g4", true, false);
  unhealthy.leaving = true;
  Tasks({Green("g1"), Green("g2"), Green("g3"), unhealthy});
  view_.reason["g4"] = "Task is UNHEALTHY: it failed its health check";
  view_.unhealthy.insert("g4");
  auto plan = Plan(absl::Seconds(1));
  ASSERT_EQ(plan.stop.size(), 1u);
  EXPECT_EQ(plan.stop[0].id, "g4");
  EXPECT_EQ(plan.stop[0].reason, "Task is UNHEALTHY: it failed its health check");
  EXPECT_TRUE(plan.stop[0].failed);
  EXPECT_EQ(plan.start, 0);

  Tasks({Green("g1"), Green("g2"), Green("g3"), Green("g4", false, false)});
  plan = Plan(absl::Seconds(1));
  ASSERT_EQ(plan.stop.size(), 1u);
  EXPECT_EQ(plan.stop[0].id, "g4") << "the one not running yet goes first";
  EXPECT_EQ(plan.stop[0].reason, "Scaled in");
  EXPECT_FALSE(plan.stop[0].failed);
}

TEST_F(BlueGreenTest, HealthyGreenStartsShiftingByTheTrafficStrategy) {
  Tasks({Green("g1"), Green("g2"), Green("g3")});
  auto plan = Plan(absl::Seconds(7));
  EXPECT_EQ(plan.green.phase(), Deployment::SHIFTING);
  EXPECT_EQ(FromProtoTime(plan.green.phase_started_at()), kStart + absl::Seconds(7));
  EXPECT_EQ(FromProtoTime(plan.green.updated_at()), kStart + absl::Seconds(7));
  EXPECT_EQ(plan.green.traffic_percent(), 50) << "linear: the first step at once";
  EXPECT_EQ(plan.green.rollout_state(), Deployment::IN_PROGRESS);
  EXPECT_THAT(plan.events, ElementsAre("blue-green: 3 green task(s) of d2 are healthy and on the "
                                       "test port; production traffic on green: 50%"));

  settings_.traffic.set_type("canary");
  settings_.traffic.set_percent(10);
  EXPECT_EQ(Plan(absl::Seconds(7)).green.traffic_percent(), 10);
  settings_.traffic.set_type("allAtOnce");
  plan = Plan(absl::Seconds(7));
  EXPECT_EQ(plan.green.traffic_percent(), 100);
  EXPECT_EQ(plan.green.phase(), Deployment::SHIFTING) << "baking starts on the next step";
}

TEST_F(BlueGreenTest, WithoutBlueAHealthyGreenCompletes) {
  Tasks({Green("g1"), Green("g2"), Green("g3")}, /*with_blue=*/false);
  const auto plan = Plan(absl::Seconds(7));
  EXPECT_TRUE(plan.blue.empty());
  EXPECT_EQ(plan.green.phase(), Deployment::PHASE_UNSPECIFIED);
  EXPECT_EQ(plan.green.traffic_percent(), 100);
  EXPECT_EQ(plan.green.rollout_state(), Deployment::COMPLETED);
  EXPECT_THAT(plan.events, ElementsAre("deployment d2 (web:2) COMPLETED: 3 healthy task(s)"));
}

TEST_F(BlueGreenTest, StartingWithNoDesiredTasksWaits) {
  green().set_desired_count(0);
  Tasks({});
  const auto plan = Plan(absl::Seconds(7));
  EXPECT_EQ(plan.start, 0);
  EXPECT_EQ(plan.green.phase(), Deployment::STARTING);
  EXPECT_THAT(plan.events, IsEmpty());
}

TEST_F(BlueGreenTest, ShiftingStepsTrafficAtEachIntervalThenBakes) {
  InPhase(Deployment::SHIFTING, 50);
  Tasks({Green("g1"), Green("g2"), Green("g3")});
  auto plan = Plan(absl::Seconds(4));
  EXPECT_EQ(plan.green.traffic_percent(), 50);
  EXPECT_THAT(plan.events, IsEmpty()) << "no change, no event";
  EXPECT_EQ(plan.recheck, kStart + absl::Seconds(10)) << "at the next interval boundary";
  EXPECT_EQ(plan.green.phase(), Deployment::SHIFTING);
  EXPECT_EQ(plan.start, 0);
  EXPECT_FALSE(plan.uses_backoff);

  plan = Plan(absl::Milliseconds(9900));
  EXPECT_EQ(plan.recheck, kStart + absl::Milliseconds(10100)) << "at least 200ms ahead";

  plan = Plan(absl::Seconds(10));
  EXPECT_EQ(plan.green.traffic_percent(), 100);
  EXPECT_EQ(plan.green.phase(), Deployment::BAKING);
  EXPECT_EQ(FromProtoTime(plan.green.phase_started_at()), kStart + absl::Seconds(10));
  EXPECT_FALSE(plan.recheck.has_value());
  EXPECT_THAT(plan.events, ElementsAre("blue-green: production traffic on green: 100%"));
}

TEST_F(BlueGreenTest, LinearStepsThatDoNotReachAHundredKeepShifting) {
  settings_.traffic.set_step_percent(30);
  InPhase(Deployment::SHIFTING, 30);
  Tasks({Green("g1"), Green("g2"), Green("g3")});
  auto plan = Plan(absl::Seconds(25));
  EXPECT_EQ(plan.green.traffic_percent(), 90);
  EXPECT_EQ(plan.green.phase(), Deployment::SHIFTING);
  EXPECT_EQ(plan.recheck, kStart + absl::Seconds(30));
  EXPECT_THAT(plan.events, ElementsAre("blue-green: production traffic on green: 90%"));
  EXPECT_EQ(Plan(absl::Seconds(30)).green.phase(), Deployment::BAKING);
}

TEST_F(BlueGreenTest, BakingWaitsTheBakeTimeThenFinishes) {
  InPhase(Deployment::BAKING, 100);
  Tasks({Green("g1"), Green("g2"), Green("g3")});
  auto plan = Plan(absl::Seconds(3));
  EXPECT_EQ(plan.green.phase(), Deployment::BAKING);
  EXPECT_EQ(plan.recheck, kStart + absl::Seconds(5));
  EXPECT_THAT(plan.events, IsEmpty());
  EXPECT_THAT(plan.stop, IsEmpty());

  plan = Plan(absl::Seconds(5));
  EXPECT_EQ(plan.green.phase(), Deployment::FINISHING);
  EXPECT_EQ(FromProtoTime(plan.green.phase_started_at()), kStart + absl::Seconds(5));
  EXPECT_FALSE(plan.recheck.has_value());
  EXPECT_THAT(plan.events, ElementsAre("blue-green: green baked for 5s; draining blue"));
  EXPECT_THAT(plan.stop, IsEmpty()) << "blue drains in the next step";
}

TEST_F(BlueGreenTest, FinishingStopsBlueThenCompletes) {
  InPhase(Deployment::FINISHING, 100);
  Tasks({Green("g1"), Green("g2"), Green("g3")});
  auto plan = Plan(absl::Seconds(1));
  ASSERT_EQ(plan.stop.size(), 3u);
  for (const auto& s : plan.stop) {
    EXPECT_EQ(s.reason, "Blue-green: replaced by deployment d2");
    EXPECT_FALSE(s.failed);
  }
  EXPECT_EQ(plan.stop[0].id, "b1");
  EXPECT_EQ(plan.green.rollout_state(), Deployment::IN_PROGRESS);
  EXPECT_THAT(plan.events, IsEmpty());

  Tasks({Green("g1"), Green("g2"), Green("g3")}, /*with_blue=*/false);
  plan = Plan(absl::Seconds(2));
  EXPECT_THAT(plan.stop, IsEmpty());
  EXPECT_EQ(plan.green.rollout_state(), Deployment::COMPLETED);
  EXPECT_EQ(plan.green.phase(), Deployment::PHASE_UNSPECIFIED);
  EXPECT_EQ(FromProtoTime(plan.green.updated_at()), kStart + absl::Seconds(2));
  EXPECT_THAT(plan.events, ElementsAre("deployment d2 (web:2) COMPLETED: blue-green switch done"));
}

TEST_F(BlueGreenTest, TheCircuitBreakerFailsGreenBackInAnyPhase) {
  for (auto phase :
       {Deployment::STARTING, Deployment::SHIFTING, Deployment::BAKING, Deployment::FINISHING}) {
    InPhase(phase, 50);
    Tasks({Green("g1")});
    view_.failed = 3;
    const auto plan = Plan(absl::Seconds(1));
    EXPECT_EQ(plan.fail_back, "circuit breaker: 3 task(s) failed (threshold 3)") << phase;
    EXPECT_EQ(plan.blue, "d1");
    EXPECT_EQ(plan.start, 0);
    EXPECT_THAT(plan.stop, IsEmpty());
    EXPECT_THAT(plan.events, IsEmpty());
    EXPECT_FALSE(plan.uses_backoff) << "the backoff is not consulted";
  }
}

TEST_F(BlueGreenTest, TheCircuitBreakerHonoursItsSettings) {
  Tasks({Green("g1")});
  view_.failed = 2;
  EXPECT_TRUE(Plan(absl::Seconds(1)).fail_back.empty()) << "below the default threshold of 3";
  settings_.threshold = 2;
  EXPECT_EQ(Plan(absl::Seconds(1)).fail_back, "circuit breaker: 2 task(s) failed (threshold 2)");
  settings_.breaker = false;
  view_.failed = 10;
  EXPECT_TRUE(Plan(absl::Seconds(1)).fail_back.empty()) << "the breaker is off";
}

TEST_F(BlueGreenTest, AFiredAlarmFailsGreenBack) {
  InPhase(Deployment::BAKING, 100);
  green().set_alarm("alarm errors fired: rate > 0.1");
  Tasks({Green("g1"), Green("g2"), Green("g3")});
  EXPECT_EQ(Plan(absl::Seconds(1)).fail_back, "alarm errors fired: rate > 0.1");
}

TEST_F(BlueGreenTest, AnUnhealthyOrMissingGreenTaskFailsBackWhileShiftingOrBaking) {
  for (auto phase : {Deployment::SHIFTING, Deployment::BAKING}) {
    InPhase(phase, 50);
    auto sick = Green("g3", true, false);
    sick.leaving = true;
    Tasks({Green("g1"), Green("g2"), sick});
    view_.unhealthy.insert("g3");
    EXPECT_EQ(Plan(absl::Seconds(1)).fail_back, "a green task failed its health check") << phase;
    Tasks({Green("g1"), Green("g2")});
    EXPECT_EQ(Plan(absl::Seconds(1)).fail_back, "only 2 of 3 green task(s) are healthy") << phase;
  }
  // While starting, the same tasks are simply replaced.
  InPhase(Deployment::STARTING);
  Tasks({Green("g1"), Green("g2")});
  EXPECT_TRUE(Plan(absl::Seconds(1)).fail_back.empty());
}

TEST_F(BlueGreenTest, FailingBackWithoutBlueNamesNoBlue) {
  InPhase(Deployment::SHIFTING, 50);
  Tasks({Green("g1")}, /*with_blue=*/false);
  const auto plan = Plan(absl::Seconds(1));
  EXPECT_EQ(plan.fail_back, "only 1 of 3 green task(s) are healthy");
  EXPECT_TRUE(plan.blue.empty()) << "the deployment fails (and may roll back) instead";
}

TEST_F(BlueGreenTest, BlueIsTheNewestOtherDeploymentWithTasks) {
  auto* older = service_.add_deployments();
  older->set_id("d0");
  older->set_status(Deployment::ACTIVE);
  Tasks({});
  view_.deployments_with_tasks.insert("d0");
  EXPECT_EQ(Plan(absl::ZeroDuration()).blue, "d1");
  view_.deployments_with_tasks.erase("d1");
  EXPECT_EQ(Plan(absl::ZeroDuration()).blue, "d0");
  view_.deployments_with_tasks.erase("d0");
  EXPECT_TRUE(Plan(absl::ZeroDuration()).blue.empty());
}

TEST_F(BlueGreenTest, NoPhaseNoChange) {
  InPhase(Deployment::PHASE_UNSPECIFIED, 100);
  Tasks({Green("g1"), Green("g2"), Green("g3")});
  const auto plan = Plan(absl::Seconds(1));
  EXPECT_EQ(plan.green.phase(), Deployment::PHASE_UNSPECIFIED);
  EXPECT_EQ(plan.green.healthy_count(), 3);
  EXPECT_EQ(plan.start, 0);
  EXPECT_THAT(plan.stop, IsEmpty());
  EXPECT_THAT(plan.events, IsEmpty());
  EXPECT_FALSE(plan.recheck.has_value());
}

}  // namespace
}  // namespace gantry::deployments
