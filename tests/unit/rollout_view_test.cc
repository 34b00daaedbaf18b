// ViewTasks(): the live tasks as the deployment in focus sees them.

#include "controlplane/deployments/rollout_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_util.h"

namespace gantry::deployments {
namespace {

using gantry::v1::Deployment;
using gantry::v1::Task;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

class RolloutViewTest : public ::testing::Test {
 protected:
  RolloutViewTest() {
    for (const auto& [id, td] : {std::pair{"d2", "web:2"}, std::pair{"d1", "web:1"}}) {
      auto* d = service_.add_deployments();
      d->set_id(id);
      d->set_task_definition(td);
    }
    focus_ = service_.deployments(0);
  }
  // A running task of deployment `d` that started `ago`.
  Task Running(const std::string& id, const std::string& d,
               absl::Duration ago = absl::Seconds(60)) {
    Task t;
    t.set_id(id);
    t.set_node("n-" + id);
    t.set_zone("a");
    t.set_deployment_id(d);
    t.set_task_definition(d == "d2" ? "web:2" : "web:1");
    t.set_desired_status(Task::RUNNING);
    t.set_last_status(Task::RUNNING);
    *t.mutable_started_at() = ToProtoTime(kNow - ago);
    return t;
  }
  RolloutView View(const std::vector<Task>& tasks) {
    return ViewTasks(service_, focus_, tasks, facts_, absl::Seconds(5), kNow);
  }

  gantry::v1::Service service_;
  Deployment focus_;
  TaskFacts facts_;
};

TEST_F(RolloutViewTest, TheFocusServesAndOtherDeploymentsLeave) {
  const auto v = View({Running("n1", "d2"), Running("o1", "d1")});
  ASSERT_EQ(v.tasks.size(), 2u);
  EXPECT_TRUE(v.tasks[0].primary);
  EXPECT_FALSE(v.tasks[0].leaving);
  EXPECT_TRUE(v.tasks[0].running);
  EXPECT_TRUE(v.tasks[0].healthy) << "settled without a health check";
  EXPECT_EQ(v.tasks[0].node, "n-n1");
  EXPECT_FALSE(v.tasks[1].primary);
  EXPECT_TRUE(v.tasks[1].leaving);
  EXPECT_THAT(v.reason, ElementsAre(Pair("o1", "Replaced by deployment d2 (web:2)")));
  EXPECT_THAT(v.deployments_with_tasks, UnorderedElementsAre("d1", "d2"));
  EXPECT_EQ(v.failed, 0);
}

TEST_F(RolloutViewTest, HealthFollowsTheCheckOrTheSettleTime) {
  auto fresh = Running("n1", "d2", absl::Seconds(2));
  auto pending = Running("n2", "d2");
  pending.set_last_status(Task::PENDING);
  auto out_of_lb = Running("n3", "d2");
  *out_of_lb.mutable_deregistered_at() = ToProtoTime(kNow);
  auto v = View({fresh, pending, out_of_lb});
  EXPECT_FALSE(v.tasks[0].healthy) << "not settled yet";
  EXPECT_FALSE(v.tasks[1].healthy);
  EXPECT_FALSE(v.tasks[1].running);
  EXPECT_FALSE(v.tasks[2].healthy) << "left the load balancer";
  EXPECT_EQ(v.reason["n3"], "Left the load balancer");

  facts_.checked_definitions.insert("web:2");
  auto checked = Running("n4", "d2");
  auto passing = Running("n5", "d2", absl::Seconds(1));
  passing.set_health(Task::HEALTHY);
  v = View({checked, passing});
  EXPECT_FALSE(v.tasks[0].healthy) << "a health check must pass, however long it ran";
  EXPECT_TRUE(v.tasks[1].healthy);
}

TEST_F(RolloutViewTest, UnhealthyDrainingAndEvictedTasksOfTheFocusLeave) {
  auto sick = Running("n1", "d2");
  sick.set_health(Task::UNHEALTHY);
  auto draining = Running("n2", "d2");
  facts_.draining_nodes.insert("n-n2");
  auto evicted = Running("n3", "d2");
  evicted.set_evicted_reason("Zone rebalancing: a has 3 tasks, b has 1");
  const auto v = View({sick, draining, evicted, Running("n4", "d2")});
  EXPECT_TRUE(v.tasks[0].leaving);
  EXPECT_TRUE(v.tasks[1].leaving);
  EXPECT_TRUE(v.tasks[2].leaving);
  EXPECT_FALSE(v.tasks[3].leaving);
  EXPECT_FALSE(v.tasks[0].replace_first);
  EXPECT_TRUE(v.tasks[2].replace_first) << "a move, not a shed";
  EXPECT_EQ(v.reason.at("n1"), "Task is UNHEALTHY: it failed its health check");
  EXPECT_EQ(v.reason.at("n2"), "Node n-n2 is DRAINING");
  EXPECT_EQ(v.reason.at("n3"), "Zone rebalancing: a has 3 tasks, b has 1");
  EXPECT_THAT(v.unhealthy, ElementsAre("n1"));
  EXPECT_EQ(v.failed, 1) << "an unhealthy task counts as failed";
}

TEST_F(RolloutViewTest, StoppedTasksOnlyCountWhenTheyFailed) {
  auto failed = Running("n1", "d2");
  failed.set_desired_status(Task::STOPPED);
  failed.set_last_status(Task::STOPPED);
  failed.set_failed(true);
  auto stopped = Running("n2", "d2");
  stopped.set_desired_status(Task::STOPPED);
  auto old_failed = Running("o1", "d1");
  old_failed.set_desired_status(Task::STOPPED);
  old_failed.set_failed(true);
  auto old_sick = Running("o2", "d1");
  old_sick.set_health(Task::UNHEALTHY);
  const auto v = View({failed, stopped, old_failed, old_sick});
  ASSERT_EQ(v.tasks.size(), 1u) << "only live tasks";
  EXPECT_EQ(v.tasks[0].id, "o2");
  EXPECT_EQ(v.failed, 1) << "failures of other deployments do not count";
  EXPECT_TRUE(v.unhealthy.empty());
  EXPECT_THAT(v.deployments_with_tasks, ElementsAre("d1"));
}

TEST_F(RolloutViewTest, TasksFromBeforeDeploymentsBelongByTaskDefinition) {
  auto legacy = Running("n1", "");
  legacy.set_task_definition("web:2");
  const auto v = View({legacy});
  EXPECT_TRUE(v.tasks[0].primary);
  EXPECT_FALSE(v.tasks[0].leaving);
  EXPECT_THAT(v.deployments_with_tasks, ElementsAre("d2"));
}

}  // namespace
}  // namespace gantry::deployments
