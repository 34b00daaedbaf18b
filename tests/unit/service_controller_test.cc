#include <gmock/gmock.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/time_util.h"
#include "controlplane/deployments/deployments.h"
#include "tests/fakes/fake_resolver.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;

class ServiceControllerTest : public ControlPlaneFixture {
 protected:
  void SetUp() override {
    Register("a1", "a");
    Register("b1", "b");
    Register("c1", "c");
  }
  void Reconcile() { ASSERT_TRUE(controller_->Reconcile("web").ok()); }
  // Plays every agent; then the settle time passes, so tasks without
  // health checks count as healthy.
  void AgentsCatchUp() {
    PlayAgents();
    clock_.Advance(absl::Seconds(5));
  }
  std::map<std::string, int> RunningPerZone() {
    std::map<std::string, int> out;
    for (const auto& t : Tasks()) {
      if (t.desired_status() == Task::RUNNING) out[t.zone()]++;
    }
    return out;
  }
};

TEST_F(ServiceControllerTest, CreatesDesiredTasksSpreadOverZones) {
  ASSERT_TRUE(ApplyWeb(6).ok());
  Reconcile();
  const auto tasks = Tasks();
  ASSERT_EQ(tasks.size(), 6u);
  EXPECT_EQ(RunningPerZone(), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  for (const auto& t : tasks) {
    EXPECT_EQ(t.task_definition(), "web:1");
    EXPECT_EQ(t.last_status(), Task::PENDING);
    ASSERT_EQ(t.ports_size(), 1);
    EXPECT_GE(t.ports(0).host_port(), 20000u);
    EXPECT_FALSE(t.ports(0).host_address().empty());
    EXPECT_EQ(t.resources().memory(), 32 << 20);
  }
  // Level-triggered: another pass changes nothing.
  const int64_t rev = store_->Revision();
  Reconcile();
  EXPECT_EQ(store_->Revision(), rev);
}

TEST_F(ServiceControllerTest, ScalesInEvenlyAndOut) {
  ASSERT_TRUE(ApplyWeb(6).ok());
  Reconcile();
  AgentsCatchUp();
  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(3);
  ASSERT_TRUE(api_->ScaleService(scale).ok());
  Reconcile();
  EXPECT_EQ(RunningPerZone(), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
  int stopping = 0;
  for (const auto& t : Tasks()) {
    if (t.desired_status() == Task::STOPPED) {
      stopping++;
      EXPECT_EQ(t.stopped_reason(), "Scaled in to 3");
      EXPECT_EQ(t.last_status(), Task::STOPPING);
    }
  }
  EXPECT_EQ(stopping, 3);
  AgentsCatchUp();
  EXPECT_EQ(Tasks().size(), 3u) << "stopped tasks are hidden by default";
  EXPECT_EQ(Tasks(true).size(), 6u);
  scale.set_desired_count(4);
  ASSERT_TRUE(api_->ScaleService(scale).ok());
  Reconcile();
  EXPECT_EQ(Tasks().size(), 4u);
}

TEST_F(ServiceControllerTest, ReplacesATaskThatStoppedOnItsOwnAfterBackoff) {
  ASSERT_TRUE(ApplyWeb(3).ok());
  Reconcile();
  AgentsCatchUp();
  const Task victim = Tasks()[0];
  Report(victim.node(), victim.id(), Task::STOPPED, "Essential container httpd exited with code 1");
  auto stopped = state_->GetTask(victim.id())->value;
  EXPECT_EQ(stopped.desired_status(), Task::STOPPED);
  EXPECT_TRUE(stopped.failed());
  EXPECT_EQ(stopped.stopped_reason(), "Essential container httpd exited with code 1");

  // The first replacement waits one backoff step.
  Reconcile();
  EXPECT_EQ(Tasks().size(), 2u);
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("next replacement in 1s")));
  clock_.Advance(absl::Seconds(1));
  Reconcile();
  EXPECT_EQ(Tasks().size(), 3u);

  // A second failure doubles the wait.
  AgentsCatchUp();
  const Task second = Tasks()[0];
  Report(second.node(), second.id(), Task::STOPPED, "Essential container httpd exited with code 1");
  Reconcile();
  clock_.Advance(absl::Seconds(1));
  Reconcile();
  EXPECT_EQ(Tasks().size(), 2u);
  clock_.Advance(absl::Seconds(1));
  Reconcile();
  EXPECT_EQ(Tasks().size(), 3u);
}

TEST_F(ServiceControllerTest, BackoffDoublesUpToItsCap) {
  controllers::ServiceController::Options options;
  options.backoff_max = absl::Seconds(3);
  controller_ = std::make_unique<controllers::ServiceController>(state_.get(), events_.get(),
                                                                 &clock_, options);
  ASSERT_TRUE(ApplyWeb(3).ok());
  Reconcile();
  AgentsCatchUp();
  Reconcile();
  ASSERT_EQ(deployments::Primary(state_->GetService("web")->value)->rollout_state(),
            gantry::v1::Deployment::COMPLETED);
  // Waits after the 1st..5th failure: 1s, 2s, then the 3s cap.
  for (int wait : {1, 2, 3, 3, 3}) {
    const Task victim = Tasks()[0];
    Report(victim.node(), victim.id(), Task::STOPPED,
           "Essential container httpd exited with code 1");
    Reconcile();
    clock_.Advance(absl::Seconds(wait) - absl::Milliseconds(100));
    Reconcile();
    EXPECT_EQ(Tasks().size(), 2u) << "still backing off before " << wait << "s";
    clock_.Advance(absl::Milliseconds(100));
    Reconcile();
    EXPECT_EQ(Tasks().size(), 3u) << "replaced after " << wait << "s";
    PlayAgents();
  }
}

TEST_F(ServiceControllerTest, RollsToANewRevisionWithoutDroppingBelowDesired) {
  ASSERT_TRUE(ApplyWeb(3).ok());
  Reconcile();
  AgentsCatchUp();
  ASSERT_TRUE(ApplyWeb(3, 64 << 20).ok());
  Reconcile();
  // Three new tasks start beside the three old ones.
  int old_running = 0;
  int fresh = 0;
  for (const auto& t : Tasks()) {
    if (t.task_definition() == "web:1" && t.desired_status() == Task::RUNNING) old_running++;
    if (t.task_definition() == "web:2") fresh++;
  }
  EXPECT_EQ(old_running, 3);
  EXPECT_EQ(fresh, 3);
  // Once they run, the old ones stop.
  AgentsCatchUp();
  Reconcile();
  for (const auto& t : Tasks()) {
    if (t.task_definition() == "web:1") {
      EXPECT_EQ(t.desired_status(), Task::STOPPED);
      EXPECT_EQ(t.stopped_reason(), "Replaced by deployment d2 (web:2)");
    }
  }
}

TEST_F(ServiceControllerTest, ExplainsWhyTasksCannotBePlaced) {
  ASSERT_TRUE(ApplyWeb(2, int64_t{64} << 30).ok());
  Reconcile();
  EXPECT_TRUE(Tasks().empty());
  EXPECT_THAT(EventMessages("web"),
              Contains("cannot place 2 task(s) of web (100m cpu, 64Gi memory): 3 nodes: 3 "
                       "insufficient memory"));
  // Repeating the same failure does not flood the events.
  const size_t before = EventMessages("web").size();
  Reconcile();
  EXPECT_EQ(EventMessages("web").size(), before);
}

TEST_F(ServiceControllerTest, DeleteStopsEverythingThenRemovesTheService) {
  ASSERT_TRUE(ApplyWeb(3).ok());
  Reconcile();
  AgentsCatchUp();
  gantry::v1::DeleteServiceRequest del;
  del.set_name("web");
  ASSERT_TRUE(api_->DeleteService(del).ok());
  Reconcile();
  for (const auto& t : Tasks()) EXPECT_EQ(t.desired_status(), Task::STOPPED);
  EXPECT_TRUE(state_->GetService("web").has_value()) << "kept until its tasks have stopped";
  AgentsCatchUp();
  Reconcile();
  EXPECT_FALSE(state_->GetService("web").has_value());
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("service deleted")));
}

TEST_F(ServiceControllerTest, ForgetsStoppedTasksAfterRetention) {
  ASSERT_TRUE(ApplyWeb(1).ok());
  Reconcile();
  AgentsCatchUp();
  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(0);
  ASSERT_TRUE(api_->ScaleService(scale).ok());
  Reconcile();
  AgentsCatchUp();
  EXPECT_EQ(Tasks(true).size(), 1u);
  clock_.Advance(absl::Hours(2));
  Reconcile();
  EXPECT_TRUE(Tasks(true).empty());
}

}  // namespace
}  // namespace gantry::testing

namespace gantry::testing {
namespace {

class DigestPinningTest : public ServiceControllerTest {
 protected:
  void SetUp() override {
    ServiceControllerTest::SetUp();
    resolver_.digests["example.org/demo/busybox:1"] = "sha256:" + std::string(64, 'a');
    controllers::ServiceController::Options options;
    options.resolve_in_background = false;  // deterministic passes
    controller_ = std::make_unique<controllers::ServiceController>(state_.get(), events_.get(),
                                                                   &clock_, options, &resolver_);
  }
  FakeResolver resolver_;
};

TEST_F(DigestPinningTest, EveryTaskOfADeploymentRunsTheSameDigest) {
  ASSERT_TRUE(ApplyWeb(3).ok());
  Reconcile();
  Reconcile();
  const auto tasks = Tasks();
  ASSERT_EQ(tasks.size(), 3u);
  for (const auto& t : tasks) {
    EXPECT_EQ(t.containers(0).image_digest(), "sha256:" + std::string(64, 'a'));
  }
  EXPECT_EQ(resolver_.calls, 1) << "resolved once per deployment, not per task";
  auto s = state_->GetService("web")->value;
  ASSERT_EQ(s.deployments_size(), 1);
  ASSERT_EQ(s.deployments(0).image_pins_size(), 1);
  EXPECT_TRUE(s.deployments(0).images_pinned());
  EXPECT_EQ(s.deployments(0).task_definition(), "web:1");
  // The agent is told to run the digest.
  nodes_->Tick();
  auto desired = nodes_->BuildDesiredTasks(tasks[0].node());
  ASSERT_GE(desired.tasks_size(), 1);
  EXPECT_EQ(desired.tasks(0).image_digests().at("httpd"), "sha256:" + std::string(64, 'a'));
  // Scaling out keeps the pin even if the tag has moved since.
  resolver_.digests["example.org/demo/busybox:1"] = "sha256:" + std::string(64, 'b');
  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(4);
  ASSERT_TRUE(api_->ScaleService(scale).ok());
  Reconcile();
  for (const auto& t : Tasks()) {
    EXPECT_EQ(t.containers(0).image_digest(), "sha256:" + std::string(64, 'a'));
  }
  // A new revision is a new deployment: resolved again.
  ASSERT_TRUE(ApplyWeb(4, 64 << 20).ok());
  Reconcile();
  Reconcile();
  for (const auto& t : Tasks()) {
    if (t.task_definition() == "web:2") {
      EXPECT_EQ(t.containers(0).image_digest(), "sha256:" + std::string(64, 'b'));
    }
  }
}

TEST_F(DigestPinningTest, AnUnresolvableImagePlacesNothingAndSaysWhy) {
  resolver_.failure =
      absl::UnavailableError("resolve example.org/demo/busybox:1: connection refused");
  ASSERT_TRUE(ApplyWeb(2).ok());
  Reconcile();
  EXPECT_TRUE(Tasks().empty());
  EXPECT_THAT(EventMessages("web"),
              Contains(HasSubstr("cannot pin the image of container httpd of web:1: resolve "
                                 "example.org/demo/busybox:1: connection refused")));
  resolver_.failure = absl::OkStatus();
  Reconcile();
  Reconcile();
  EXPECT_EQ(Tasks().size(), 2u);
}

TEST_F(DigestPinningTest, AnImageTheRegistryDoesNotKnowFailsOnTheTasks) {
  resolver_.failure =
      absl::NotFoundError("resolve example.org/demo/busybox:1: manifest unknown: manifest unknown");
  ASSERT_TRUE(ApplyWeb(2).ok());
  Reconcile();
  Reconcile();
  // Not held back forever: the tasks exist, unpinned, and their pulls will
  // fail with the registry's answer, which the circuit breaker counts.
  ASSERT_EQ(Tasks().size(), 2u);
  for (const auto& t : Tasks()) EXPECT_TRUE(t.containers(0).image_digest().empty());
  EXPECT_THAT(EventMessages("web"),
              Contains(HasSubstr("manifest unknown; its tasks use the reference as written")));
}

// A registry that answers only when the test lets it.
class GatedResolver : public images::ImageResolver {
 public:
  absl::StatusOr<std::string> Resolve(const std::string&) override {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return open; });
    return "sha256:" + std::string(64, 'f');
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
};

TEST_F(ServiceControllerTest, ASlowRegistryDoesNotHoldBackOtherServices) {
  GatedResolver registry;
  controller_ = std::make_unique<controllers::ServiceController>(
      state_.get(), events_.get(), &clock_, controllers::ServiceController::Options(), &registry);
  // However the test ends, the controller's resolver thread is let go and
  // joined before `registry` goes.
  struct StopFirst {
    GatedResolver& registry;
    std::unique_ptr<controllers::ServiceController>& controller;
    ~StopFirst() {
      registry.Open();
      controller.reset();
    }
  } stop_first{registry, controller_};
  ASSERT_TRUE(ApplyWeb(2).ok());
  // The pass returns at once although the registry has not answered.
  Reconcile();
  EXPECT_TRUE(Tasks().empty()) << "no task before its digest is pinned";
  // Another service, not pinned, is placed meanwhile.
  gantry::v1::ApplyRequest other;
  auto* s = other.add_services();
  s->set_name("api");
  s->set_task_definition("web");
  s->set_desired_count(1);
  auto td = WebTd();
  td.set_family("api");
  td.mutable_containers(0)->set_pin_digest(false);
  *other.add_task_definitions() = td;
  s->set_task_definition("api");
  ASSERT_TRUE(api_->Apply(other).ok());
  ASSERT_TRUE(controller_->Reconcile("api").ok());
  EXPECT_EQ(state_->ListTasks({.service = "api"}).size(), 1u);
  // The registry answers; the next passes pin and place.
  registry.Open();
  for (int i = 0; i < 10000000 && Tasks().size() < 2; ++i) {
    Reconcile();
    if (Tasks().size() < 2) std::this_thread::yield();
  }
  ASSERT_EQ(Tasks().size(), 2u);
  EXPECT_EQ(Tasks()[0].containers(0).image_digest(), "sha256:" + std::string(64, 'f'));
}

TEST_F(DigestPinningTest, PinningCanBeTurnedOffPerContainer) {
  gantry::v1::ApplyRequest req;
  auto td = WebTd();
  td.mutable_containers(0)->set_pin_digest(false);
  *req.add_task_definitions() = td;
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web");
  s->set_desired_count(1);
  ASSERT_TRUE(api_->Apply(req).ok());
  Reconcile();
  Reconcile();
  ASSERT_EQ(Tasks().size(), 1u);
  EXPECT_TRUE(Tasks()[0].containers(0).image_digest().empty());
  EXPECT_EQ(resolver_.calls, 0);
}

}  // namespace
}  // namespace gantry::testing
