// Deployments driven through the controller on a fake clock: the circuit
// breaker and rollback, blue-green phases with traffic weights, failures
// during a shift, and deregistration before stopping.

#include <gmock/gmock.h>

#include <set>

#include "common/time_util.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Deployment;
using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;

class DeploymentControllerTest : public ControlPlaneFixture {
 protected:
  void SetUp() override {
    Register("a1", "a");
    Register("b1", "b");
    Register("c1", "c");
  }
  gantry::v1::ApplyRequest Spec(int64_t memory, const std::string& strategy, bool load_balancer) {
    gantry::v1::ApplyRequest req;
    *req.add_task_definitions() = WebTd(memory);
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(3);
    auto* dc = s->mutable_deployment_configuration();
    dc->set_strategy(strategy);
    dc->mutable_traffic()->set_type("linear");
    dc->mutable_traffic()->set_step_percent(50);
    *dc->mutable_traffic()->mutable_interval() = ToProtoDuration(absl::Seconds(10));
    *dc->mutable_bake_time() = ToProtoDuration(absl::Seconds(5));
    if (load_balancer) {
      auto* lb = s->mutable_load_balancer();
      lb->set_port(8080);
      lb->set_target_port("http");
      lb->set_test_port(8081);
      *lb->mutable_deregistration_delay() = ToProtoDuration(absl::Seconds(2));
    }
    return req;
  }
  void Reconcile() { ASSERT_TRUE(controller_->Reconcile("web").ok()); }
  // Agents start what is pending and stop what should stop; tasks of
  // `failing_revision` crash instead of starting.
  void Agents(const std::string& failing_revision = "") {
    for (const auto& t : Tasks()) {
      if (t.desired_status() == Task::RUNNING && t.last_status() == Task::PENDING) {
        if (t.task_definition() == failing_revision) {
          Report(t.node(), t.id(), Task::STOPPED, "Essential container httpd exited with code 3");
        } else {
          Report(t.node(), t.id(), Task::RUNNING);
        }
      } else if (t.desired_status() == Task::STOPPED) {
        Report(t.node(), t.id(), Task::STOPPED);
      }
    }
  }
  void Step(absl::Duration d = absl::Seconds(6), const std::string& failing = "") {
    Reconcile();
    Agents(failing);
    clock_.Advance(d);
    Reconcile();
  }
  gantry::v1::Service Web() { return state_->GetService("web")->value; }
  const Deployment& Newest() {
    newest_ = Web().deployments(0);
    return newest_;
  }
  std::map<std::string, int> Weights(bool test) {
    std::map<std::string, int> out;  // task definition -> weight sum
    auto e = api_->ListEndpoints();
    EXPECT_TRUE(e.ok());
    for (const auto& l : e->listeners()) {
      if (l.test() != test) continue;
      for (const auto& b : l.backends()) {
        out[state_->GetTask(b.task_id())->value.task_definition()] += b.weight();
      }
    }
    return out;
  }
  Deployment newest_;
};

TEST_F(DeploymentControllerTest, CircuitBreakerRollsBackToTheLastCompletedDeployment) {
  ASSERT_TRUE(api_->Apply(Spec(32 << 20, "rolling", false)).ok());
  for (int i = 0; i < 3; ++i) Step();
  EXPECT_EQ(Newest().rollout_state(), Deployment::COMPLETED);
  ASSERT_TRUE(api_->Apply(Spec(64 << 20, "rolling", false)).ok());
  for (int i = 0; i < 10 && Web().deployments_size() < 3; ++i) Step(absl::Seconds(6), "web:2");
  auto s = Web();
  ASSERT_EQ(s.deployments_size(), 3);
  EXPECT_EQ(s.deployments(1).rollout_state(), Deployment::FAILED);
  EXPECT_THAT(s.deployments(1).rollout_state_reason(),
              HasSubstr("circuit breaker: 3 task(s) failed"));
  EXPECT_EQ(s.deployments(0).task_definition(), "web:1");
  EXPECT_EQ(s.deployments(0).rollback_of(), s.deployments(1).id());
  EXPECT_EQ(s.resolved_task_definition(), "web:1");
  for (int i = 0; i < 3; ++i) Step();
  EXPECT_EQ(Newest().rollout_state(), Deployment::COMPLETED);
  for (const auto& t : Tasks()) EXPECT_EQ(t.task_definition(), "web:1");
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("rolling back to web:1")));
}

TEST_F(DeploymentControllerTest, BlueGreenShiftsTrafficThenRetiresBlue) {
  ASSERT_TRUE(api_->Apply(Spec(32 << 20, "blueGreen", true)).ok());
  for (int i = 0; i < 3; ++i) Step();
  ASSERT_EQ(Newest().rollout_state(), Deployment::COMPLETED) << "no blue: done once healthy";
  EXPECT_EQ(Weights(false), (std::map<std::string, int>{{"web:1", 255}}));

  ASSERT_TRUE(api_->Apply(Spec(64 << 20, "blueGreen", true)).ok());
  Reconcile();
  Agents();
  EXPECT_EQ(Tasks().size(), 6u) << "green at full count beside blue";
  EXPECT_EQ(Newest().phase(), Deployment::STARTING);
  clock_.Advance(absl::Seconds(6));  // green settles
  Reconcile();
  EXPECT_EQ(Newest().phase(), Deployment::SHIFTING);
  EXPECT_EQ(Newest().traffic_percent(), 50);
  auto prod = Weights(false);
  EXPECT_EQ(prod["web:1"], prod["web:2"]) << "linear 50%";
  EXPECT_EQ(Weights(true), (std::map<std::string, int>{{"web:1", 0}, {"web:2", 255}}))
      << "test port: green only";
  clock_.Advance(absl::Seconds(10));
  Reconcile();
  EXPECT_EQ(Newest().traffic_percent(), 100);
  EXPECT_EQ(Newest().phase(), Deployment::BAKING);
  EXPECT_EQ(Weights(false)["web:1"], 0);
  clock_.Advance(absl::Seconds(5));
  Reconcile();
  EXPECT_EQ(Newest().phase(), Deployment::FINISHING);
  Reconcile();
  // Blue leaves the load balancer first and stops after the delay.
  for (const auto& t : Tasks()) {
    if (t.task_definition() == "web:1") {
      EXPECT_TRUE(t.has_deregistered_at());
      EXPECT_EQ(t.desired_status(), Task::RUNNING);
    }
  }
  clock_.Advance(absl::Seconds(2));
  Reconcile();
  Agents();
  Reconcile();
  EXPECT_EQ(Newest().rollout_state(), Deployment::COMPLETED);
  for (const auto& t : Tasks()) EXPECT_EQ(t.task_definition(), "web:2");
}

TEST_F(DeploymentControllerTest, GreenCountsAndTestPortWaitForEveryGreenTask) {
  ASSERT_TRUE(api_->Apply(Spec(32 << 20, "blueGreen", true)).ok());
  for (int i = 0; i < 3; ++i) Step();
  ASSERT_TRUE(api_->Apply(Spec(64 << 20, "blueGreen", true)).ok());
  Reconcile();
  EXPECT_EQ(Newest().pending_count(), 3);
  EXPECT_EQ(Newest().running_count(), 0);
  // Two of the three green tasks start; the third is still pulling.
  int started = 0;
  for (const auto& t : Tasks()) {
    if (t.task_definition() == "web:2" && started < 2) {
      Report(t.node(), t.id(), Task::RUNNING);
      started++;
    }
  }
  clock_.Advance(absl::Seconds(6));
  Reconcile();
  EXPECT_EQ(Newest().phase(), Deployment::STARTING);
  EXPECT_EQ(Newest().running_count(), 2);
  EXPECT_EQ(Newest().pending_count(), 1);
  EXPECT_EQ(Newest().healthy_count(), 2);
  EXPECT_EQ(Weights(true)["web:2"], 0) << "the test port waits for all green tasks";
  Agents();
  clock_.Advance(absl::Seconds(6));
  Reconcile();
  EXPECT_EQ(Newest().phase(), Deployment::SHIFTING);
  EXPECT_EQ(Newest().running_count(), 3);
  EXPECT_EQ(Newest().pending_count(), 0);
  EXPECT_GT(Weights(true)["web:2"], 0);
}

TEST_F(DeploymentControllerTest, RollingWeighsOldAndNewTasksAlike) {
  ASSERT_TRUE(api_->Apply(Spec(32 << 20, "rolling", true)).ok());
  for (int i = 0; i < 3; ++i) Step();
  ASSERT_TRUE(api_->Apply(Spec(64 << 20, "rolling", true)).ok());
  Reconcile();
  // One new task runs and is healthy beside the three old ones.
  for (const auto& t : Tasks()) {
    if (t.task_definition() == "web:2") {
      Report(t.node(), t.id(), Task::RUNNING);
      break;
    }
  }
  clock_.Advance(absl::Seconds(6));
  auto e = api_->ListEndpoints();
  ASSERT_TRUE(e.ok());
  std::set<int> weights;
  int backends = 0;
  for (const auto& l : e->listeners()) {
    if (l.test()) continue;
    for (const auto& b : l.backends()) {
      weights.insert(b.weight());
      backends++;
    }
  }
  EXPECT_EQ(backends, 4);
  EXPECT_EQ(weights, std::set<int>{deployments::ServerWeight(100, 4)});
}

TEST_F(DeploymentControllerTest, AnUnhealthyGreenSendsAllTrafficBackToBlue) {
  ASSERT_TRUE(api_->Apply(Spec(32 << 20, "blueGreen", true)).ok());
  for (int i = 0; i < 3; ++i) Step();
  ASSERT_TRUE(api_->Apply(Spec(64 << 20, "blueGreen", true)).ok());
  Step();
  ASSERT_EQ(Newest().phase(), Deployment::SHIFTING);
  // A green task turns UNHEALTHY during the shift.
  for (const auto& t : Tasks()) {
    if (t.task_definition() != "web:2") continue;
    gantry::v1::TaskStatusReport report;
    auto* ts = report.add_tasks();
    ts->set_task_id(t.id());
    ts->set_status(Task::RUNNING);
    ts->set_health(Task::UNHEALTHY);
    nodes_->OnStatus(t.node(), report);
    break;
  }
  Reconcile();
  auto s = Web();
  EXPECT_EQ(s.resolved_task_definition(), "web:1");
  const auto* primary = deployments::Primary(s);
  ASSERT_NE(primary, nullptr);
  EXPECT_EQ(primary->task_definition(), "web:1");
  EXPECT_EQ(s.deployments(0).rollout_state(), Deployment::FAILED);
  EXPECT_EQ(Weights(false)["web:2"], 0) << "all production traffic back on blue at once";
  EXPECT_GT(Weights(false)["web:1"], 0);
}

TEST_F(DeploymentControllerTest, TasksLeaveTheLoadBalancerBeforeTheyStop) {
  ASSERT_TRUE(api_->Apply(Spec(32 << 20, "rolling", true)).ok());
  for (int i = 0; i < 3; ++i) Step();
  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(2);
  ASSERT_TRUE(api_->ScaleService(scale).ok());
  Reconcile();
  int deregistered = 0;
  for (const auto& t : Tasks()) {
    if (t.has_deregistered_at()) {
      deregistered++;
      EXPECT_EQ(t.desired_status(), Task::RUNNING) << "still running, out of the LB";
    }
  }
  EXPECT_EQ(deregistered, 1);
  auto e = api_->ListEndpoints();
  ASSERT_EQ(e->listeners(0).backends_size(), 2);
  for (const auto& b : e->listeners(0).backends()) {
    EXPECT_FALSE(state_->GetTask(b.task_id())->value.has_deregistered_at());
    EXPECT_EQ(b.weight(), deployments::ServerWeight(100, 2));
  }
  clock_.Advance(absl::Seconds(2));
  Reconcile();
  int stopping = 0;
  for (const auto& t : Tasks()) stopping += t.desired_status() == Task::STOPPED ? 1 : 0;
  EXPECT_EQ(stopping, 1);
}

TEST_F(DeploymentControllerTest, UndoReturnsToThePreviousCompletedDeployment) {
  ASSERT_TRUE(api_->Apply(Spec(32 << 20, "rolling", false)).ok());
  for (int i = 0; i < 3; ++i) Step();
  ASSERT_TRUE(api_->Apply(Spec(64 << 20, "rolling", false)).ok());
  for (int i = 0; i < 3; ++i) Step();
  ASSERT_EQ(Newest().task_definition(), "web:2");
  ASSERT_EQ(Newest().rollout_state(), Deployment::COMPLETED);
  gantry::v1::UndoRolloutRequest undo;
  undo.set_service("web");
  auto s = api_->UndoRollout(undo);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->resolved_task_definition(), "web:1");
  for (int i = 0; i < 3; ++i) Step();
  for (const auto& t : Tasks()) EXPECT_EQ(t.task_definition(), "web:1");
  undo.set_service("nosuch");
  EXPECT_EQ(api_->UndoRollout(undo).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gantry::testing
