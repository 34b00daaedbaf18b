// DeploymentRunner on the state: rolling steps to completion, retiring
// drained deployments, the circuit breaker, alarms and rollbacks, the
// replacement backoff, saving, and blue-green phases with their rechecks
// and failing back.

#include "controlplane/controllers/deployment_runner.h"

#include <gmock/gmock.h>

#include "controlplane/controllers/replacement_backoff.h"
#include "controlplane/controllers/task_batch.h"
#include "tests/unit/controllers_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Deployment;
using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;

class DeploymentRunnerTest : public ControllersFixture {
 protected:
  gantry::v1::ApplyRequest Spec(int64_t memory, const std::string& strategy = "rolling") {
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
    if (strategy == "blueGreen") {
      auto* lb = s->mutable_load_balancer();
      lb->set_port(8080);
      lb->set_target_port("http");
      lb->set_test_port(8081);
      *lb->mutable_deregistration_delay() = ToProtoDuration(absl::Seconds(2));
    }
    return req;
  }
  void Apply(const gantry::v1::ApplyRequest& req) { ASSERT_TRUE(api_->Apply(req).ok()); }
  // One step of the stored service; returns whether it settled.
  bool Step() {
    auto service = Web();
    const Deployment primary = *deployments::Primary(service);
    const auto td = state_->ResolveTaskDefinition(primary.task_definition());
    auto policy = scheduler::PlacementPolicy::FromProto(service.placement());
    controllers::TaskBatch batch(state_.get(), events_.get(), &clock_);
    auto settled = runner_.Step(service, primary, *td, *policy, Tasks(true), batch);
    EXPECT_TRUE(settled.ok()) << settled.status();
    EXPECT_TRUE(batch.Flush().ok());
    return settled.ok() && *settled;
  }
  // Plays the agents: pending tasks run, stopping ones stop; then tasks
  // without health checks settle.
  void Agents() {
    for (const auto& t : Tasks()) {
      if (t.desired_status() == Task::RUNNING && t.last_status() == Task::PENDING) {
        SetLastStatus(t.id(), Task::RUNNING);
      } else if (t.desired_status() == Task::STOPPED && t.last_status() != Task::STOPPED) {
        SetLastStatus(t.id(), Task::STOPPED);
      }
    }
    clock_.Advance(absl::Seconds(5));
  }
  // Rolls the spec out to completion.
  void RollOut(const gantry::v1::ApplyRequest& req) {
    Apply(req);
    for (int i = 0; i < 10 && Newest().rollout_state() != Deployment::COMPLETED; ++i) {
      Step();
      Agents();
    }
    ASSERT_EQ(Newest().rollout_state(), Deployment::COMPLETED);
  }
  Deployment Newest() { return Web().deployments(0); }
  int Live(const std::string& td) {
    int n = 0;
    for (const auto& t : Tasks()) {
      n += t.task_definition() == td && t.desired_status() == Task::RUNNING ? 1 : 0;
    }
    return n;
  }
  // Stops every live task of `td` as failed.
  void Crash(const std::string& td) {
    for (const auto& t : Tasks()) {
      if (t.task_definition() != td || t.desired_status() != Task::RUNNING) continue;
      ASSERT_TRUE(state_
                      ->UpdateTask(t.id(),
                                   [&](Task& x) {
                                     x.set_desired_status(Task::STOPPED);
                                     x.set_last_status(Task::STOPPED);
                                     x.set_failed(true);
                                     x.set_stopped_reason("Essential container httpd exited");
                                     *x.mutable_stopped_at() = ToProtoTime(clock_.Now());
                                     return true;
                                   })
                      .ok());
    }
  }

  controllers::ReplacementBackoff backoff_{events_.get(), &clock_, {}};
  controllers::DeploymentRunner runner_{state_.get(), events_.get(), &clock_,   &failures_,
                                        &backoff_,    &stopper_,     &rechecks_};
};

TEST_F(DeploymentRunnerTest, GivesAServiceFromBeforeDeploymentsItsFirstOne) {
  gantry::v1::Service old;
  old.set_name("web");
  old.set_resolved_task_definition("web:1");
  old.set_desired_count(2);
  store::TxnRequest txn;
  txn.ops.push_back(store::Op::Put(state::ServiceKey("web"), old.SerializeAsString()));
  ASSERT_TRUE(state_->Commit(txn).ok());
  ASSERT_TRUE(runner_.StartFirst("web").ok());
  ASSERT_EQ(Web().deployments_size(), 1);
  EXPECT_EQ(Newest().task_definition(), "web:1");
  EXPECT_EQ(Newest().status(), Deployment::PRIMARY);
  EXPECT_EQ(Newest().rollout_state(), Deployment::IN_PROGRESS);
  const int64_t rev = store_->Revision();
  ASSERT_TRUE(runner_.StartFirst("web").ok());
  EXPECT_EQ(store_->Revision(), rev);
}

TEST_F(DeploymentRunnerTest, RollingPlacesCountsAndCompletes) {
  Apply(Spec(32 << 20));
  EXPECT_FALSE(Step());
  EXPECT_EQ(Live("web:1"), 3);
  EXPECT_EQ(Newest().pending_count(), 3) << "placed in this step";
  Agents();
  EXPECT_TRUE(Step()) << "complete, healthy, nothing leaving";
  EXPECT_EQ(Newest().rollout_state(), Deployment::COMPLETED);
  EXPECT_EQ(Newest().healthy_count(), 3);
  EXPECT_EQ(Newest().running_count(), 3);
  EXPECT_THAT(EventMessages("web"), Contains("deployment d1 (web:1) COMPLETED: 3 healthy task(s)"));
}

TEST_F(DeploymentRunnerTest, RollingReplacesOldTasksThenRetiresTheirDeployment) {
  RollOut(Spec(32 << 20));
  Apply(Spec(64 << 20));
  Step();
  EXPECT_EQ(Live("web:1"), 3) << "minimum healthy 100%";
  EXPECT_EQ(Live("web:2"), 3) << "maximum 200%";
  Agents();
  Step();
  EXPECT_EQ(Live("web:1"), 0);
  for (const auto& t : Tasks()) {
    if (t.task_definition() == "web:1") {
      EXPECT_EQ(t.stopped_reason(), "Replaced by deployment d2 (web:2)");
    }
  }
  EXPECT_EQ(Web().deployments(1).status(), Deployment::ACTIVE) << "its tasks are still stopping";
  Agents();
  EXPECT_TRUE(Step());
  EXPECT_EQ(Web().deployments(1).status(), Deployment::INACTIVE);
}

TEST_F(DeploymentRunnerTest, TheCircuitBreakerFailsAndRollsBack) {
  RollOut(Spec(32 << 20));
  Apply(Spec(64 << 20));
  Step();
  Crash("web:2");
  EXPECT_FALSE(Step());
  const auto s = Web();
  ASSERT_EQ(s.deployments_size(), 3);
  EXPECT_EQ(s.deployments(1).rollout_state(), Deployment::FAILED);
  EXPECT_EQ(s.deployments(1).rollout_state_reason(),
            "circuit breaker: 3 task(s) failed (threshold 3)");
  EXPECT_EQ(s.deployments(0).task_definition(), "web:1");
  EXPECT_EQ(s.deployments(0).rollback_of(), "d2");
  EXPECT_EQ(s.deployments(0).status(), Deployment::PRIMARY);
  EXPECT_EQ(s.resolved_task_definition(), "web:1");
  EXPECT_THAT(EventMessages("web"),
              Contains("deployment d2 (web:2) FAILED: circuit breaker: 3 task(s) failed "
                       "(threshold 3); rolling back to web:1 (deployment d3)"));
}

TEST_F(DeploymentRunnerTest, FailingWithoutARollback) {
  Apply(Spec(32 << 20));
  ASSERT_TRUE(runner_.Fail(Web(), "d1", "alarm fired").ok());
  EXPECT_EQ(Newest().rollout_state(), Deployment::FAILED);
  EXPECT_THAT(EventMessages("web"),
              Contains("deployment d1 (web:1) FAILED: alarm fired; there is no COMPLETED "
                       "deployment to roll back to"));
  const int64_t rev = store_->Revision();
  ASSERT_TRUE(runner_.Fail(Web(), "d1", "again").ok());
  EXPECT_EQ(store_->Revision(), rev) << "only an IN_PROGRESS deployment fails";

  auto off = Spec(64 << 20);
  off.mutable_services(0)
      ->mutable_deployment_configuration()
      ->mutable_circuit_breaker()
      ->set_rollback(false);
  Apply(off);
  ASSERT_TRUE(runner_.Fail(Web(), "d2", "alarm fired").ok());
  EXPECT_EQ(Web().deployments_size(), 2);
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("rollback is off, so it stays as it is")));
}

TEST_F(DeploymentRunnerTest, AFiredAlarmFailsARollingDeployment) {
  RollOut(Spec(32 << 20));
  Apply(Spec(64 << 20));
  ASSERT_TRUE(state_
                  ->UpdateService("web",
                                  [](gantry::v1::Service& s) {
                                    deployments::Primary(s)->set_alarm("alarm errors fired");
                                    return true;
                                  })
                  .ok());
  EXPECT_FALSE(Step());
  EXPECT_EQ(Web().deployments(1).rollout_state(), Deployment::FAILED);
  EXPECT_EQ(Web().deployments(1).rollout_state_reason(), "alarm errors fired");
  EXPECT_EQ(Live("web:2"), 0) << "nothing was started";
}

TEST_F(DeploymentRunnerTest, ReplacementsWaitOutTheBackoffAndAskForARecheck) {
  RollOut(Spec(32 << 20));
  const Task victim = Tasks()[0];
  Fail(victim.id());
  Step();
  EXPECT_EQ(Live("web:1"), 2);
  EXPECT_EQ(rechecks_.When("web"), clock_.Now() + absl::Seconds(1));
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("next replacement in 1s")));
  clock_.Advance(absl::Seconds(1));
  Step();
  EXPECT_EQ(Live("web:1"), 3);
}

TEST_F(DeploymentRunnerTest, SavingKeepsWhatOnlyTheApiChanges) {
  Apply(Spec(32 << 20));
  Deployment d = Newest();
  d.set_healthy_count(2);
  d.set_desired_count(99);
  d.set_status(Deployment::INACTIVE);
  d.set_alarm("not mine to set");
  ASSERT_TRUE(runner_.Save(Web(), d).ok());
  EXPECT_EQ(Newest().healthy_count(), 2);
  EXPECT_EQ(Newest().desired_count(), 3);
  EXPECT_EQ(Newest().status(), Deployment::PRIMARY);
  EXPECT_TRUE(Newest().alarm().empty());
  const int64_t rev = store_->Revision();
  ASSERT_TRUE(runner_.Save(Web(), d).ok());
  EXPECT_EQ(store_->Revision(), rev) << "nothing changed, nothing written";
}

TEST_F(DeploymentRunnerTest, BlueGreenGoesThroughItsPhasesOnRechecks) {
  RollOut(Spec(32 << 20, "blueGreen"));
  Apply(Spec(64 << 20, "blueGreen"));
  EXPECT_FALSE(Step());
  EXPECT_EQ(Newest().phase(), Deployment::STARTING);
  EXPECT_EQ(Live("web:2"), 3);
  Agents();
  Step();
  EXPECT_EQ(Newest().phase(), Deployment::SHIFTING);
  EXPECT_EQ(Newest().traffic_percent(), 50);
  EXPECT_FALSE(rechecks_.When("web").has_value()) << "saving the phase brings the next step";
  const absl::Time shifted = clock_.Now();
  Step();
  EXPECT_EQ(rechecks_.When("web"), shifted + absl::Seconds(10)) << "the next traffic step";
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(Newest().phase(), Deployment::BAKING);
  EXPECT_EQ(Newest().traffic_percent(), 100);
  rechecks_.TakeDue(absl::InfiniteFuture());
  Step();
  EXPECT_EQ(rechecks_.When("web"), clock_.Now() + absl::Seconds(5)) << "the end of the bake";
  clock_.Advance(absl::Seconds(5));
  Step();
  EXPECT_EQ(Newest().phase(), Deployment::FINISHING);
  rechecks_.TakeDue(absl::InfiniteFuture());
  Step();
  EXPECT_EQ(Live("web:1"), 3) << "blue leaves the load balancer first";
  EXPECT_EQ(rechecks_.When("web"), clock_.Now() + absl::Seconds(2));
  clock_.Advance(absl::Seconds(2));
  Step();
  EXPECT_EQ(Live("web:1"), 0);
  Agents();
  Step();
  EXPECT_EQ(Newest().rollout_state(), Deployment::COMPLETED);
  EXPECT_THAT(EventMessages("web"),
              Contains("deployment d2 (web:2) COMPLETED: blue-green switch done"));
}

TEST_F(DeploymentRunnerTest, AnUnhealthyGreenFailsBackToBlue) {
  RollOut(Spec(32 << 20, "blueGreen"));
  Apply(Spec(64 << 20, "blueGreen"));
  Step();
  Agents();
  Step();
  ASSERT_EQ(Newest().phase(), Deployment::SHIFTING);
  for (const auto& t : Tasks()) {
    if (t.task_definition() != "web:2") continue;
    ASSERT_TRUE(state_
                    ->UpdateTask(t.id(),
                                 [](Task& x) {
                                   x.set_health(Task::UNHEALTHY);
                                   return true;
                                 })
                    .ok());
    break;
  }
  EXPECT_FALSE(Step());
  const auto s = Web();
  EXPECT_EQ(s.resolved_task_definition(), "web:1");
  EXPECT_EQ(s.deployments(0).rollout_state(), Deployment::FAILED);
  EXPECT_EQ(s.deployments(0).status(), Deployment::ACTIVE);
  EXPECT_EQ(s.deployments(0).traffic_percent(), 0);
  EXPECT_EQ(s.deployments(0).phase(), Deployment::PHASE_UNSPECIFIED);
  EXPECT_EQ(s.deployments(1).status(), Deployment::PRIMARY);
  EXPECT_EQ(s.deployments(1).traffic_percent(), 100);
  EXPECT_THAT(EventMessages("web"),
              Contains("blue-green: deployment d2 (web:2) FAILED: a green task failed its health "
                       "check; all traffic is back on d1 (web:1)"));
}

TEST_F(DeploymentRunnerTest, AGreenWithoutBlueThatFailsFailsItsDeployment) {
  Apply(Spec(32 << 20, "blueGreen"));
  Step();
  Crash("web:1");
  Step();
  EXPECT_EQ(Newest().rollout_state(), Deployment::FAILED);
  EXPECT_THAT(EventMessages("web"),
              Contains(HasSubstr("there is no COMPLETED deployment to roll back to")));
}

}  // namespace
}  // namespace gantry::testing
