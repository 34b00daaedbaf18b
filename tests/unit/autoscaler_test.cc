// The autoscaler and the alarm watcher over a control plane's state on a
// fake clock, with Prometheus answered by a fake.

#include "controlplane/autoscaling/autoscaler.h"

#include <gmock/gmock.h>

#include "common/time_util.h"
#include "controlplane/autoscaling/alarms.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/metrics/cp_metrics.h"
#include "tests/fakes/fake_prometheus.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Deployment;
using gantry::v1::Task;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kRate[] = "sum(rate(requests_total[1m])) / count(up{service=\"web\"})";
constexpr char kQueue[] = "max(queue_depth)";

class AutoscalerTest : public ControlPlaneFixture {
 protected:
  AutoscalerTest()
      : metrics_(state_.get()),
        autoscaler_(state_.get(), events_.get(), &clock_, &prometheus_, &metrics_, {}),
        alarms_(state_.get(), events_.get(), &clock_, &prometheus_, &metrics_, {}) {}

  void SetUp() override {
    Register("a1", "a");
    Register("b1", "b");
  }

  gantry::v1::ApplyRequest Spec(int count, int64_t memory = 32 << 20) {
    gantry::v1::ApplyRequest req;
    *req.add_task_definitions() = WebTd(memory);
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(count);
    auto* a = s->mutable_autoscaling();
    a->set_min_count(2);
    a->set_max_count(10);
    a->set_prometheus("http://prometheus:9090");
    auto* tt = a->add_target_tracking();
    tt->set_query(kRate);
    tt->set_target(100);
    *a->mutable_scale_out_cooldown() = ToProtoDuration(absl::Seconds(30));
    *a->mutable_scale_in_cooldown() = ToProtoDuration(absl::Seconds(60));
    return req;
  }
  void Apply(const gantry::v1::ApplyRequest& req) {
    auto r = api_->Apply(req);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  gantry::v1::Service Web() { return state_->GetService("web")->value; }
  // Runs tasks to the desired count and completes the deployment.
  void Settle() {
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(controller_->Reconcile("web").ok());
      PlayAgents();
      clock_.Advance(absl::Seconds(6));
    }
    ASSERT_TRUE(controller_->Reconcile("web").ok());
  }
  void Evaluate() { autoscaler_.EvaluateAll(); }

  FakePrometheus prometheus_;
  metrics::ControlPlaneMetrics metrics_;
  autoscaling::Autoscaler autoscaler_;
  autoscaling::AlarmWatcher alarms_;
};

TEST_F(AutoscalerTest, ScalesOutByTheRatioAndQuotesTheNumbers) {
  Apply(Spec(2));
  Settle();
  prometheus_.Set(kRate, {300});
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 6);
  EXPECT_EQ(deployments::Primary(Web())->desired_count(), 6);
  EXPECT_THAT(EventMessages("web"),
              Contains(AllOf(HasSubstr("scale out 2 -> 6"), HasSubstr("= 300"),
                             HasSubstr("target 100"), HasSubstr("-> 6"))));
  const auto status = Web().autoscaling_status();
  ASSERT_EQ(status.values_size(), 1);
  EXPECT_DOUBLE_EQ(status.values(0).value(), 300);
  EXPECT_EQ(status.values(0).recommendation(), 6);
  EXPECT_TRUE(status.has_last_scale_out());
  EXPECT_FALSE(status.has_last_scale_in());
  // The controller places the new tasks.
  Settle();
  EXPECT_EQ(Tasks().size(), 6u);
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("gantry_autoscaling_decisions_total{direction=\"out\",service=\"web\"} 1"));
}

TEST_F(AutoscalerTest, StaysWithinMaxAndWaitsForTheScaleOutCooldown) {
  Apply(Spec(2));
  Settle();
  prometheus_.Set(kRate, {200});
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 4);
  prometheus_.Set(kRate, {1000});
  clock_.Advance(absl::Seconds(10));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 4);  // cooldown
  EXPECT_THAT(Web().autoscaling_status().last_decision(), HasSubstr("scale-out cooldown"));
  clock_.Advance(absl::Seconds(20));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 10);  // 40 clamped to max
}

TEST_F(AutoscalerTest, ScaleInIsStabilizedOverTheWindow) {
  Apply(Spec(2));
  Settle();
  prometheus_.Set(kRate, {400});
  Evaluate();
  ASSERT_EQ(Web().desired_count(), 8);
  Settle();  // 18 s pass
  // Load drops: the window (the 60 s scale-in cooldown) still holds 8.
  prometheus_.Set(kRate, {25});
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 8);
  EXPECT_THAT(Web().autoscaling_status().last_decision(), HasSubstr("would scale in"));
  clock_.Advance(absl::Seconds(30));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 8);
  // Once the high recommendation has left the window, and the cooldown
  // since the scale-out has passed, it scales in to what the window holds.
  clock_.Advance(absl::Seconds(31));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 2);
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("scale in 8 -> 2")));
}

TEST_F(AutoscalerTest, NoActionWhenPrometheusFailsOrAnswersNothing) {
  Apply(Spec(3));
  Settle();
  prometheus_.SetDown(
      absl::UnavailableError("Prometheus at http://prometheus:9090: "
                             "Couldn't connect to server"));
  Evaluate();
  clock_.Advance(absl::Seconds(15));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 3);
  const auto messages = EventMessages("web");
  // One event for the same problem, however often it repeats.
  EXPECT_EQ(std::count_if(messages.begin(), messages.end(),
                          [](const std::string& m) {
                            return m.find("Couldn't connect") != std::string::npos;
                          }),
            1);
  EXPECT_THAT(messages, Contains(HasSubstr("no action, the count stays at 3")));
  EXPECT_THAT(Web().autoscaling_status().values(0).error(), HasSubstr("Couldn't connect"));
  EXPECT_THAT(metrics_.Render(), HasSubstr("gantry_autoscaling_errors_total{service=\"web\"} 2"));

  // Prometheus is back but the query matches nothing: still no action.
  prometheus_.SetDown(absl::OkStatus());
  clock_.Advance(absl::Seconds(15));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 3);
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("returned no value")));

  // Several series are not one value.
  prometheus_.Set(kRate, {500, 600});
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 3);
  EXPECT_THAT(Web().autoscaling_status().last_decision(), HasSubstr("2 series"));
}

TEST_F(AutoscalerTest, AnEventSaysWhenTheQueriesAnswerAgain) {
  Apply(Spec(3));
  Settle();
  prometheus_.SetDown(
      absl::UnavailableError("Prometheus at http://prometheus:9090: "
                             "Couldn't connect to server"));
  Evaluate();
  prometheus_.SetDown(absl::OkStatus());
  prometheus_.Set(kRate, {100});  // on target
  clock_.Advance(absl::Seconds(15));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 3);
  EXPECT_THAT(EventMessages("web"),
              Contains("autoscaling: the queries answer again; steady at 3: "
                       "`sum(rate(requests_total[1m])) / count(up{service=\"web\"})` = 100 "
                       "(target 100) -> 3"));
  // Said once: steady rounds after it add nothing.
  clock_.Advance(absl::Seconds(15));
  Evaluate();
  const auto messages = EventMessages("web");
  EXPECT_EQ(std::count_if(
                messages.begin(), messages.end(),
                [](const std::string& m) { return m.find("answer again") != std::string::npos; }),
            1);
}

TEST_F(AutoscalerTest, TheLargestRecommendationWins) {
  auto spec = Spec(2);
  auto* ss = spec.mutable_services(0)->mutable_autoscaling()->add_step_scaling();
  ss->set_query(kQueue);
  auto* step = ss->add_steps();
  step->set_above(1000);
  step->set_adjust(5);
  Apply(spec);
  Settle();
  prometheus_.Set(kRate, {150});    // target tracking: 3
  prometheus_.Set(kQueue, {2000});  // step: 2 + 5 = 7
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 7);
  EXPECT_EQ(Web().autoscaling_status().values_size(), 2);
  // The event quotes each value, the target or the step that applied, and
  // the result.
  EXPECT_THAT(EventMessages("web"),
              Contains(AllOf(HasSubstr("= 150 (target 100) -> 3"),
                             HasSubstr("= 2000 (step above 1000: +5) -> 7"))));
}

TEST_F(AutoscalerTest, NoScaleInWhileADeploymentIsInProgress) {
  Apply(Spec(2));
  Settle();
  prometheus_.Set(kRate, {300});
  Evaluate();
  Settle();
  ASSERT_EQ(Web().desired_count(), 6);
  // A new revision starts a deployment; load drops meanwhile.
  Apply(Spec(2, 48 << 20));
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  ASSERT_EQ(deployments::Primary(Web())->rollout_state(), Deployment::IN_PROGRESS);
  prometheus_.Set(kRate, {10});
  clock_.Advance(absl::Minutes(5));
  Evaluate();
  EXPECT_EQ(Web().desired_count(), 6);
  EXPECT_THAT(Web().autoscaling_status().last_decision(), HasSubstr("deployment is in progress"));
}

TEST_F(AutoscalerTest, ApplyingAgainKeepsTheChosenCountWithinNewBounds) {
  Apply(Spec(2));
  prometheus_.Set(kRate, {500});
  Evaluate();
  ASSERT_EQ(Web().desired_count(), 10);
  Apply(Spec(2));  // the file still says 2
  EXPECT_EQ(Web().desired_count(), 10);
  auto spec = Spec(2);
  spec.mutable_services(0)->mutable_autoscaling()->set_max_count(5);
  Apply(spec);
  EXPECT_EQ(Web().desired_count(), 5);
}

TEST_F(AutoscalerTest, AFiringAlarmRollsTheDeploymentBack) {
  auto spec = Spec(2);
  spec.mutable_services(0)->clear_autoscaling();
  auto* alarms = spec.mutable_services(0)->mutable_deployment_configuration()->mutable_alarms();
  alarms->set_prometheus("http://prometheus:9090");
  auto* rule = alarms->add_rules();
  rule->set_name("errors");
  rule->set_query("rate(errors_total[1m]) > 1");
  *spec.mutable_services(0)->mutable_deployment_configuration()->mutable_bake_time() =
      ToProtoDuration(absl::Seconds(30));
  Apply(spec);
  Settle();  // the first deployment bakes 30 s with its alarms quiet
  alarms_.EvaluateAll();
  clock_.Advance(absl::Seconds(30));
  Settle();
  ASSERT_EQ(deployments::Primary(Web())->rollout_state(), Deployment::COMPLETED);
  const std::string first = deployments::Primary(Web())->id();

  spec.mutable_task_definitions(0)->mutable_containers(0)->set_memory(48 << 20);
  Apply(spec);
  Settle();
  // Rolled out and baking: the alarm fires.
  ASSERT_EQ(deployments::Primary(Web())->phase(), Deployment::BAKING);
  prometheus_.Set("rate(errors_total[1m]) > 1", {3.5});
  alarms_.EvaluateAll();
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const auto web = Web();
  const Deployment* failed = nullptr;
  for (const auto& d : web.deployments()) {
    if (d.rollout_state() == Deployment::FAILED) failed = &d;
  }
  ASSERT_NE(failed, nullptr);
  EXPECT_THAT(failed->rollout_state_reason(), HasSubstr("alarm errors fired"));
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("rolling back to web:1")));
  EXPECT_EQ(deployments::Primary(web)->rollback_of(), failed->id());
  EXPECT_NE(deployments::Primary(web)->id(), first);
  // The rollback is not gated by the alarm that caused it.
  const int before = prometheus_.queries();
  alarms_.EvaluateAll();
  EXPECT_EQ(prometheus_.queries(), before);
  EXPECT_THAT(metrics_.Render(), HasSubstr("gantry_deployment_alarms_fired_total"));
}

// An alarm that cannot be evaluated once let a deployment complete unguarded.
class UnavailableAlarmsTest : public AutoscalerTest {
 protected:
  void ApplyGuarded(const std::string& on_unavailable) {
    auto spec = Spec(2);
    spec.mutable_services(0)->clear_autoscaling();
    auto* dc = spec.mutable_services(0)->mutable_deployment_configuration();
    auto* alarms = dc->mutable_alarms();
    alarms->set_prometheus("http://prometheus:9090");
    alarms->add_rules()->set_name("errors");
    alarms->mutable_rules(0)->set_query("up == 0");
    alarms->set_on_unavailable(on_unavailable);
    *dc->mutable_bake_time() = ToProtoDuration(absl::Seconds(30));
    Apply(spec);
  }
  int Count(const std::string& text) {
    const auto messages = EventMessages("web");
    return static_cast<int>(std::count_if(messages.begin(), messages.end(), [&](const auto& m) {
      return m.find(text) != std::string::npos;
    }));
  }
  int Started() {
    int n = 0;
    for (const auto& t : state_->ListTasks({.service = "web"})) n++;
    return n;
  }
};

TEST_F(UnavailableAlarmsTest, TheDeploymentHoldsThenFails) {
  ApplyGuarded("");
  prometheus_.SetDown(absl::UnavailableError("connection refused"));
  alarms_.EvaluateAll();
  alarms_.EvaluateAll();
  Settle();
  const auto held = Web();
  EXPECT_EQ(deployments::Primary(held)->rollout_state(), Deployment::IN_PROGRESS);
  EXPECT_TRUE(deployments::Primary(held)->has_alarms_unavailable_since());
  EXPECT_EQ(Started(), 0) << "no task starts unguarded";
  EXPECT_EQ(Count("holds: alarm errors could not be evaluated (connection refused); it waits up "
                  "to 5m for them, then fails (alarms.onUnavailable: fail)"),
            1);
  clock_.Advance(absl::Minutes(5));
  alarms_.EvaluateAll();
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const auto web = Web();
  EXPECT_EQ(web.deployments(0).rollout_state(), Deployment::FAILED);
  EXPECT_THAT(web.deployments(0).rollout_state_reason(),
              HasSubstr("its alarms could not be evaluated for 5m (alarm errors could not be "
                        "evaluated (connection refused)); alarms.onUnavailable is fail"));
}

TEST_F(UnavailableAlarmsTest, TheDeploymentGoesOnWhenTheAlarmsAnswerAgain) {
  ApplyGuarded("");
  prometheus_.SetDown(absl::UnavailableError("connection refused"));
  alarms_.EvaluateAll();
  Settle();
  EXPECT_EQ(Started(), 0);
  prometheus_.SetDown(absl::OkStatus());
  alarms_.EvaluateAll();
  EXPECT_FALSE(deployments::Primary(Web())->has_alarms_unavailable_since());
  EXPECT_EQ(Count("its alarms answer again; it goes on"), 1);
  Settle();
  EXPECT_EQ(Started(), 2);
  EXPECT_EQ(deployments::Primary(Web())->phase(), Deployment::BAKING);
  // Down again while baking: the bake does not end.
  prometheus_.SetDown(absl::UnavailableError("connection refused"));
  alarms_.EvaluateAll();
  clock_.Advance(absl::Seconds(60));
  Settle();
  EXPECT_EQ(deployments::Primary(Web())->rollout_state(), Deployment::IN_PROGRESS);
  prometheus_.SetDown(absl::OkStatus());
  alarms_.EvaluateAll();
  Settle();
  EXPECT_EQ(deployments::Primary(Web())->rollout_state(), Deployment::COMPLETED);
}

TEST_F(UnavailableAlarmsTest, ProceedGoesOnWithoutThemAfterTheTimeout) {
  ApplyGuarded("proceed");
  prometheus_.SetDown(absl::UnavailableError("connection refused"));
  alarms_.EvaluateAll();
  Settle();
  EXPECT_EQ(Started(), 0);
  clock_.Advance(absl::Minutes(5));
  alarms_.EvaluateAll();
  const auto web = Web();
  const Deployment* d = deployments::Primary(web);
  EXPECT_TRUE(d->alarms_waived());
  EXPECT_FALSE(d->has_alarms_unavailable_since());
  EXPECT_EQ(Count("alarms.onUnavailable is proceed: it goes on without them"), 1);
  const int queries = prometheus_.queries();
  alarms_.EvaluateAll();
  EXPECT_EQ(prometheus_.queries(), queries) << "a waived deployment is not watched";
  Settle();
  clock_.Advance(absl::Seconds(30));
  Settle();
  EXPECT_EQ(deployments::Primary(Web())->rollout_state(), Deployment::COMPLETED);
}

}  // namespace
}  // namespace gantry::testing
