// TrackRolling(): counts, baking under alarms, completion and settling.

#include "controlplane/deployments/rolling_progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_util.h"

namespace gantry::deployments {
namespace {

using gantry::v1::Deployment;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

RolloutTask Serving(const std::string& id, bool running = true, bool healthy = true) {
  return {id, "n-" + id, "a", true, running, healthy, false};
}
RolloutTask Old(const std::string& id) { return {id, "n-" + id, "a", false, true, true, true}; }

class RollingProgressTest : public ::testing::Test {
 protected:
  RollingProgressTest() {
    primary_.set_id("d2");
    primary_.set_task_definition("web:2");
    primary_.set_desired_count(3);
    primary_.set_rollout_state(Deployment::IN_PROGRESS);
    settings_.bake_time = absl::Seconds(30);
  }
  RollingProgress Track(std::vector<RolloutTask> tasks, int placed = 0,
                        absl::Duration after = absl::ZeroDuration()) {
    view_.tasks = std::move(tasks);
    return TrackRolling(service_, primary_, view_, placed, settings_, kNow + after);
  }
  void WithAlarms() {
    auto* rule = service_.mutable_deployment_configuration()->mutable_alarms()->add_rules();
    rule->set_name("errors");
    rule->set_query("rate(errors[1m]) > 0");
  }

  gantry::v1::Service service_;
  Deployment primary_;
  Settings settings_;
  RolloutView view_;
};

TEST_F(RollingProgressTest, CountsServingTasksAndTheOnesJustPlaced) {
  view_.failed = 2;
  const auto p = Track({Serving("n1"), Serving("n2", true, false), Old("o1")}, /*placed=*/1);
  EXPECT_EQ(p.primary.pending_count(), 1) << "placed this step";
  EXPECT_EQ(p.primary.running_count(), 2);
  EXPECT_EQ(p.primary.healthy_count(), 1);
  EXPECT_EQ(p.primary.failed_count(), 2);
  EXPECT_EQ(p.primary.rollout_state(), Deployment::IN_PROGRESS);
  EXPECT_FALSE(p.settled);
  EXPECT_THAT(p.events, IsEmpty());
}

TEST_F(RollingProgressTest, CompletesOnceRolledOut) {
  const auto p = Track({Serving("n1"), Serving("n2"), Serving("n3")});
  EXPECT_EQ(p.primary.rollout_state(), Deployment::COMPLETED);
  EXPECT_EQ(FromProtoTime(p.primary.updated_at()), kNow);
  EXPECT_TRUE(p.primary.rollout_state_reason().empty());
  EXPECT_THAT(p.events, ElementsAre("deployment d2 (web:2) COMPLETED: 3 healthy task(s)"));
  EXPECT_TRUE(p.settled);
  EXPECT_FALSE(p.recheck.has_value());
}

TEST_F(RollingProgressTest, NotRolledOutWhileAnythingLeavesOrIsMissing) {
  EXPECT_EQ(Track({Serving("n1"), Serving("n2"), Serving("n3"), Old("o1")}).primary.rollout_state(),
            Deployment::IN_PROGRESS);
  EXPECT_EQ(Track({Serving("n1"), Serving("n2")}, /*placed=*/1).primary.rollout_state(),
            Deployment::IN_PROGRESS);
  EXPECT_EQ(
      Track({Serving("n1"), Serving("n2"), Serving("n3", true, false)}).primary.rollout_state(),
      Deployment::IN_PROGRESS);
  EXPECT_EQ(
      Track({Serving("n1"), Serving("n2"), Serving("n3"), Serving("n4")}).primary.rollout_state(),
      Deployment::IN_PROGRESS)
      << "more serving than desired: the surplus goes first";
}

TEST_F(RollingProgressTest, WithAlarmsItBakesBeforeItCompletes) {
  WithAlarms();
  auto p = Track({Serving("n1"), Serving("n2"), Serving("n3")});
  EXPECT_EQ(p.primary.rollout_state(), Deployment::IN_PROGRESS);
  EXPECT_EQ(p.primary.phase(), Deployment::BAKING);
  EXPECT_EQ(FromProtoTime(p.primary.phase_started_at()), kNow);
  EXPECT_EQ(p.recheck, kNow + absl::Seconds(30));
  EXPECT_THAT(p.events,
              ElementsAre("deployment d2 rolled out; baking for 30s while its alarms are watched"));
  EXPECT_FALSE(p.settled);

  primary_ = p.primary;
  p = Track({Serving("n1"), Serving("n2"), Serving("n3")}, 0, absl::Seconds(10));
  EXPECT_EQ(p.primary.phase(), Deployment::BAKING);
  EXPECT_EQ(p.recheck, kNow + absl::Seconds(30)) << "the bake started earlier";
  EXPECT_THAT(p.events, IsEmpty()) << "announced once";

  p = Track({Serving("n1"), Serving("n2"), Serving("n3")}, 0, absl::Seconds(30));
  EXPECT_EQ(p.primary.rollout_state(), Deployment::COMPLETED);
  EXPECT_EQ(p.primary.phase(), Deployment::PHASE_UNSPECIFIED);
  EXPECT_TRUE(p.settled);
}

TEST_F(RollingProgressTest, RollbacksDoNotBake) {
  WithAlarms();
  primary_.set_rollback_of("d1");
  const auto p = Track({Serving("n1"), Serving("n2"), Serving("n3")});
  EXPECT_EQ(p.primary.rollout_state(), Deployment::COMPLETED);
}

TEST_F(RollingProgressTest, ACompletedDeploymentSettlesOnlyWhenAllIsHealthy) {
  primary_.set_rollout_state(Deployment::COMPLETED);
  auto p = Track({Serving("n1"), Serving("n2"), Serving("n3")});
  EXPECT_TRUE(p.settled);
  EXPECT_THAT(p.events, IsEmpty()) << "completed once";
  EXPECT_FALSE(Track({Serving("n1"), Serving("n2"), Serving("n3"), Old("o1")}).settled);
  EXPECT_FALSE(Track({Serving("n1"), Serving("n2"), Serving("n3", true, false)}).settled);
}

TEST_F(RollingProgressTest, AFailedDeploymentNeverCompletes) {
  primary_.set_rollout_state(Deployment::FAILED);
  const auto p = Track({Serving("n1"), Serving("n2"), Serving("n3")});
  EXPECT_EQ(p.primary.rollout_state(), Deployment::FAILED);
  EXPECT_FALSE(p.settled);
}

}  // namespace
}  // namespace gantry::deployments
