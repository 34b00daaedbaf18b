#include "agent/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "common/time_util.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/test_dir.h"

namespace gantry::agent {
namespace {

using gantry::v1::Task;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kImage[] = "example.org/demo/busybox:1";

// Task networks kept in memory, like CniNetwork's records on disk.
class FakeTaskNetwork : public TaskNetwork {
 public:
  absl::StatusOr<TaskAttachment> Attach(const std::string& id,
                                        const std::vector<MappedPort>& ports) override {
    if (!attach_error.ok()) return attach_error;
    attaches++;
    last_ports = ports;
    auto [it, added] = attached.try_emplace(id, TaskAttachment{"/run/netns/" + id, "10.200.3.7"});
    return it->second;
  }
  absl::Status Check(const std::string& id) override {
    checks++;
    return attached.contains(id) ? check_result : absl::NotFoundError(id);
  }
  absl::Status Detach(const std::string& id) override {
    if (!detach_error.ok()) return std::exchange(detach_error, absl::OkStatus());
    attached.erase(id);
    return absl::OkStatus();
  }
  std::vector<std::string> Attached() const override {
    std::vector<std::string> out;
    for (const auto& [id, a] : attached) out.push_back(id);
    return out;
  }
  std::optional<TaskAttachment> Find(const std::string& id) const override {
    auto it = attached.find(id);
    if (it == attached.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, TaskAttachment> attached;
  std::vector<MappedPort> last_ports;
  absl::Status attach_error;
  absl::Status detach_error;  // once
  absl::Status check_result;
  int attaches = 0;
  int checks = 0;
};

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("reconciler");
    runtime_.AddImage(kImage);
    Restart();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A new reconciler on the same runtime and data dir, as after a restart.
  void Restart() {
    Reconciler::Options o;
    o.data_dir = dir_.string();
    o.node_name = "n1";
    o.zone = "a";
    o.node_address = "10.0.0.1";
    o.netns_path = "/var/run/netns/n1";
    ImageManager::Options io;
    io.data_dir = dir_.string();
    io.pull_threads = 0;  // pulls run inline
    images_ = std::make_unique<ImageManager>(&runtime_, &registry_, &clock_, io);
    health_ = std::make_unique<HealthMonitor>(&runtime_, &clock_, HealthMonitor::Options{0});
    reconciler_ = std::make_unique<Reconciler>(
        &runtime_, images_.get(), health_.get(), &clock_, o,
        [this](const gantry::v1::TaskStatusReport& r) { reports_.push_back(r); });
    reconciler_->SetTaskNetwork(&network_);
    ASSERT_TRUE(reconciler_->Recover().ok());
  }

  static gantry::v1::TaskAssignment Assignment(const std::string& id, int containers = 1) {
    gantry::v1::TaskAssignment a;
    a.set_task_id(id);
    a.set_service("web");
    a.set_task_definition("web:1");
    for (int i = 0; i < containers; ++i) {
      auto* c = a.add_containers();
      c->set_name(i == 0 ? "httpd" : "sidecar");
      c->set_image(kImage);
      c->set_cpu(100);
      c->set_memory(32 << 20);
      c->set_essential(i == 0);
      *c->mutable_stop_timeout() = ToProtoDuration(absl::Seconds(10));
      (*c->mutable_environment())["GREETING"] = "hi";
    }
    auto* p = a.add_ports();
    p->set_name("http");
    p->set_host_port(20001);
    p->set_container_port(20001);
    return a;
  }

  void Desire(const std::vector<gantry::v1::TaskAssignment>& tasks) {
    gantry::v1::DesiredTasks d;
    d.set_sequence(++sequence_);
    for (const auto& t : tasks) *d.add_tasks() = t;
    ASSERT_TRUE(reconciler_->SetDesired(d));
  }

  std::optional<gantry::v1::TaskState> StateOf(const std::string& id) {
    for (const auto& ts : reconciler_->Snapshot()) {
      if (ts.task_id() == id) return ts;
    }
    return std::nullopt;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  FakeRuntime runtime_;
  registry::RegistryClient registry_{registry::RegistryConfig()};
  std::unique_ptr<ImageManager> images_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<Reconciler> reconciler_;
  std::vector<gantry::v1::TaskStatusReport> reports_;
  int64_t sequence_ = 0;
  FakeTaskNetwork network_;
};

TEST_F(ReconcilerTest, StartsWantedTasksWithGantryEnvironment) {
  Desire({Assignment("t1")});
  reconciler_->Tick();
  EXPECT_THAT(runtime_.RunningIds(), ElementsAre("t1-httpd"));
  EXPECT_EQ(StateOf("t1")->status(), Task::RUNNING);
  auto spec = runtime_.SpecOf("t1-httpd");
  ASSERT_TRUE(spec.has_value());
  EXPECT_THAT(spec->env, Contains("GANTRY_PORT_HTTP=20001"));
  EXPECT_THAT(spec->env, Contains("GANTRY_ADDR_HTTP=10.0.0.1:20001"));
  EXPECT_THAT(spec->env, Contains("GANTRY_TASK_ID=t1"));
  EXPECT_THAT(spec->env, Contains("GREETING=hi"));
  EXPECT_EQ(spec->netns_path, "/var/run/netns/n1");
  EXPECT_EQ(spec->memory_bytes, 32 << 20);
  EXPECT_EQ(spec->labels.at(kLabelTaskId), "t1");
  EXPECT_EQ(spec->log_path, reconciler_->LogPath("t1", "httpd"));
  // The first report after a desired set is a full one, with its sequence.
  ASSERT_FALSE(reports_.empty());
  EXPECT_TRUE(reports_.back().full());
  EXPECT_EQ(reports_.back().sequence(), 1);
  // Nothing more happens on the next tick.
  const int creates = runtime_.creates();
  reports_.clear();
  reconciler_->Tick();
  EXPECT_EQ(runtime_.creates(), creates);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(ReconcilerTest, AnAssignmentWhoseIdsCouldNameAPathIsNeverStarted) {
  auto escape = Assignment("../../../tmp/gantry-escape");
  auto bad_container = Assignment("t2");
  bad_container.mutable_containers(0)->set_name("../x");
  Desire({escape, bad_container, Assignment("t1")});
  reconciler_->Tick();
  EXPECT_THAT(runtime_.RunningIds(), ElementsAre("t1-httpd"));
  EXPECT_FALSE(StateOf("../../../tmp/gantry-escape").has_value());
  EXPECT_FALSE(StateOf("t2").has_value());
  EXPECT_FALSE(std::filesystem::exists("/tmp/gantry-escape.pb"));
}

TEST_F(ReconcilerTest, IgnoresStaleDesiredSets) {
  Desire({Assignment("t1")});
  gantry::v1::DesiredTasks stale;
  stale.set_sequence(0);
  EXPECT_FALSE(reconciler_->SetDesired(stale));
  reconciler_->Tick();
  EXPECT_THAT(runtime_.RunningIds(), ElementsAre("t1-httpd"));
}

// A replaced leader (paused past its lease, then resumed) may still send a
// set: an older epoch than the newest seen is ignored, across sessions.
TEST_F(ReconcilerTest, SetsOfAnOlderLeaderEpochAreIgnored) {
  gantry::v1::DesiredTasks from_new;
  from_new.set_epoch(9);
  from_new.set_sequence(1);  // a new leader's sequence may be lower
  *from_new.add_tasks() = Assignment("t1");
  gantry::v1::DesiredTasks old_leader;
  old_leader.set_epoch(5);
  old_leader.set_sequence(100);
  ASSERT_TRUE(reconciler_->SetDesired(old_leader));
  EXPECT_TRUE(reconciler_->SetDesired(from_new)) << "a newer epoch wins whatever its sequence";
  reconciler_->NewSession();
  EXPECT_FALSE(reconciler_->SetDesired(old_leader));
  reconciler_->Tick();
  EXPECT_THAT(runtime_.RunningIds(), ElementsAre("t1-httpd"));
}

TEST_F(ReconcilerTest, ANewSessionsSetsCountEvenWithLowerSequences) {
  // The control plane came back on a new store: its revisions start over.
  for (int i = 0; i < 5; ++i) Desire({Assignment("t1")});
  reconciler_->Tick();
  reconciler_->NewSession();
  gantry::v1::DesiredTasks fresh;
  fresh.set_sequence(1);
  *fresh.add_tasks() = Assignment("t2");
  EXPECT_TRUE(reconciler_->SetDesired(fresh));
  // t1 stops (it is not in the new set), then t2 takes its port.
  for (int i = 0; i < 3; ++i) reconciler_->Tick();
  EXPECT_EQ(StateOf("t2")->status(), Task::RUNNING);
  const auto t1 = StateOf("t1");  // stopped, reported, then forgotten
  EXPECT_TRUE(!t1.has_value() || t1->status() == Task::STOPPED);
  EXPECT_THAT(runtime_.RunningIds(), ElementsAre("t2-httpd"));
}

TEST_F(ReconcilerTest, StopsWithSigtermThenSigkillAfterTheTimeout) {
  Desire({Assignment("t1")});
  reconciler_->Tick();
  runtime_.IgnoreSigterm("t1-httpd");
  Desire({});
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->status(), Task::STOPPING);
  EXPECT_THAT(runtime_.Signals(), ElementsAre(Pair("t1-httpd", SIGTERM)));
  clock_.Advance(absl::Seconds(9));
  reconciler_->Tick();
  EXPECT_EQ(runtime_.Signals().size(), 1u);
  clock_.Advance(absl::Seconds(1));
  reconciler_->Tick();  // SIGKILL
  EXPECT_THAT(runtime_.Signals(), Contains(Pair("t1-httpd", SIGKILL)));
  reconciler_->Tick();  // removal
  EXPECT_TRUE(runtime_.AllIds().empty()) << "nothing is left behind in the runtime";
}

// The stop timeout is time that passed, not what the node's clock reads: a
// clock set an hour ahead does not SIGKILL a container still shutting down.
TEST_F(ReconcilerTest, AClockStepDoesNotCutTheStopTimeoutShort) {
  Desire({Assignment("t1")});
  reconciler_->Tick();
  runtime_.IgnoreSigterm("t1-httpd");
  Desire({});
  reconciler_->Tick();
  ASSERT_THAT(runtime_.Signals(), ElementsAre(Pair("t1-httpd", SIGTERM)));
  clock_.Step(absl::Hours(1));
  reconciler_->Tick();
  EXPECT_EQ(runtime_.Signals().size(), 1u) << "no SIGKILL: no time passed";
  clock_.Advance(absl::Seconds(10));
  reconciler_->Tick();
  EXPECT_THAT(runtime_.Signals(), Contains(Pair("t1-httpd", SIGKILL)));
  reconciler_->Tick();  // removal, reported
  int stopped = 0;
  for (const auto& report : reports_) {
    for (const auto& t : report.tasks()) {
      if (t.task_id() != "t1" || t.status() != Task::STOPPED) continue;
      stopped++;
      EXPECT_EQ(FromProtoTime(t.stopped_at()), clock_.Now())
          << "the stop time reported is the wall clock's";
    }
  }
  EXPECT_GT(stopped, 0) << "the stop was reported";
}

TEST_F(ReconcilerTest, ANewTaskWaitsForTheStaleTaskHoldingItsPort) {
  // t1 is stale (the node was DOWN; the control plane freed its port) and
  // takes its time to stop; t2 got the same host port.
  Desire({Assignment("t1")});
  reconciler_->Tick();
  runtime_.IgnoreSigterm("t1-httpd");
  auto other = Assignment("t3");
  other.mutable_ports(0)->set_host_port(20002);
  other.mutable_ports(0)->set_container_port(20002);
  Desire({Assignment("t2"), other});
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->status(), Task::STOPPING);
  EXPECT_EQ(StateOf("t2")->status(), Task::PENDING) << "port 20001 is still held";
  EXPECT_EQ(StateOf("t3")->status(), Task::RUNNING) << "a free port does not wait";
  clock_.Advance(absl::Seconds(10));
  reconciler_->Tick();  // SIGKILL
  reconciler_->Tick();
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t2")->status(), Task::RUNNING);
}

TEST_F(ReconcilerTest, EssentialExitStopsTheTaskAndReportsWhy) {
  Desire({Assignment("t1", 2)});
  reconciler_->Tick();
  EXPECT_EQ(runtime_.RunningIds().size(), 2u);
  // A non-essential container may exit without stopping the task.
  runtime_.Exit("t1-sidecar", 0);
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->status(), Task::RUNNING);
  runtime_.Exit("t1-httpd", 3);
  reconciler_->Tick();
  auto st = StateOf("t1");
  EXPECT_EQ(st->status(), Task::STOPPED);
  EXPECT_EQ(st->reason(), "EssentialContainerExited: essential container httpd exited with code 3");
  EXPECT_TRUE(st->containers(0).exited());
  EXPECT_EQ(st->containers(0).exit_code(), 3);
  EXPECT_TRUE(runtime_.AllIds().empty());
  // Still wanted, but never restarted here: the control plane replaces it.
  reconciler_->Tick();
  EXPECT_EQ(runtime_.creates(), 2);
}

TEST_F(ReconcilerTest, MissingImageFailsTheTaskWithAReason) {
  auto a = Assignment("t1");
  a.mutable_containers(0)->set_image("example.org/nosuch:1");
  Desire({a});
  reconciler_->Tick();
  auto st = StateOf("t1");
  EXPECT_EQ(st->status(), Task::STOPPED);
  EXPECT_EQ(st->reason(), "CannotPullContainerError: pull example.org/nosuch:1: manifest unknown");
}

TEST_F(ReconcilerTest, AWaitingTaskSaysWhyItsPullIsRetried) {
  runtime_.AddRegistryImage("example.org/demo/web:2", "sha256:" + std::string(64, '2'));
  runtime_.FailPulls(absl::UnavailableError("cannot connect to example.org (Couldn't connect)"));
  auto a = Assignment("t1");
  a.mutable_containers(0)->set_image("example.org/demo/web:2");
  Desire({a});
  reconciler_->Tick();
  auto st = StateOf("t1");
  EXPECT_EQ(st->status(), Task::PENDING);
  EXPECT_THAT(st->containers(0).reason(),
              ::testing::HasSubstr("pulling example.org/demo/web:2: the last attempt failed: "
                                   "cannot connect to example.org (Couldn't connect). Retrying"));
  // The registry is back: the next attempt, after the backoff, starts it.
  runtime_.FailPulls(absl::OkStatus());
  clock_.Advance(absl::Seconds(1));
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->status(), Task::RUNNING);
  EXPECT_EQ(StateOf("t1")->containers(0).reason(), "");
}

TEST_F(ReconcilerTest, RuntimeOutageIsRetriedNotFatal) {
  runtime_.SetDown(true);
  Desire({Assignment("t1")});
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->status(), Task::PENDING);
  runtime_.SetDown(false);
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->status(), Task::RUNNING);
}

TEST_F(ReconcilerTest, RestartAdoptsRunningContainersWithoutDuplicates) {
  Desire({Assignment("t1"), Assignment("t2")});
  reconciler_->Tick();
  const int creates = runtime_.creates();
  Restart();
  EXPECT_EQ(StateOf("t1")->status(), Task::RUNNING);
  // Before any desired set arrives, nothing is stopped (the control plane may
  // be unreachable).
  reconciler_->Tick();
  EXPECT_EQ(runtime_.RunningIds().size(), 2u);
  sequence_ = 0;
  Desire({Assignment("t1"), Assignment("t2")});
  reconciler_->Tick();
  EXPECT_EQ(runtime_.creates(), creates);
  EXPECT_EQ(runtime_.RunningIds().size(), 2u);
}

// A restarted agent once reported every task UNKNOWN until its probes ran
// again, which took them out of the load balancer and failed blue-green
// deployments back.
TEST_F(ReconcilerTest, HealthSurvivesARestartUntilTheFirstProbeAnswers) {
  auto a = Assignment("t1");
  auto* h = a.mutable_containers(0)->mutable_health_check();
  h->add_command("CMD");
  h->add_command("/bin/true");
  *h->mutable_interval() = ToProtoDuration(absl::Seconds(5));
  *h->mutable_timeout() = ToProtoDuration(absl::Seconds(2));
  *h->mutable_start_period() = ToProtoDuration(absl::ZeroDuration());
  h->set_retries(2);
  Desire({a});
  reconciler_->Tick();
  clock_.Advance(absl::Seconds(1));
  health_->RunDue();
  reconciler_->Tick();
  ASSERT_EQ(StateOf("t1")->health(), Task::HEALTHY);

  Restart();
  EXPECT_EQ(StateOf("t1")->health(), Task::HEALTHY) << "what registration reports";
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->health(), Task::HEALTHY) << "before the first probe";
  // From then on the probes decide, as if the last one before the restart
  // had passed: one failure is not yet enough.
  runtime_.SetExecResult("t1-httpd", ExecResult{1, "down"});
  clock_.Advance(absl::Seconds(1));
  health_->RunDue();
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->health(), Task::HEALTHY);
  clock_.Advance(absl::Seconds(5));
  health_->RunDue();
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->health(), Task::UNHEALTHY);
}

TEST_F(ReconcilerTest, RestartRemembersStoppedTasks) {
  Desire({Assignment("t1")});
  reconciler_->Tick();
  runtime_.Exit("t1-httpd", 1);
  reconciler_->Tick();
  Restart();
  // The control plane has not seen the stop yet and still lists the task.
  sequence_ = 0;
  Desire({Assignment("t1")});
  reconciler_->Tick();
  EXPECT_EQ(runtime_.creates(), 1) << "a stopped task must not run again";
  EXPECT_EQ(StateOf("t1")->status(), Task::STOPPED);
}

TEST_F(ReconcilerTest, OrphanContainersAreStopped) {
  ContainerSpec spec;
  spec.id = "ghost-httpd";
  spec.labels = {{kLabelTaskId, "ghost"}, {kLabelContainer, "httpd"}};
  ASSERT_TRUE(runtime_.Create(spec).ok());
  ASSERT_TRUE(runtime_.Start("ghost-httpd").ok());
  Restart();
  Desire({});
  reconciler_->Tick();
  reconciler_->Tick();
  EXPECT_TRUE(runtime_.AllIds().empty());
}

TEST_F(ReconcilerTest, StoppedTasksAreForgottenOnceReportedAndUnwanted) {
  Desire({Assignment("t1")});
  reconciler_->Tick();
  Desire({});
  reconciler_->Tick();  // SIGTERM
  reconciler_->Tick();  // exited: removed, reported, forgotten
  EXPECT_FALSE(StateOf("t1").has_value());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "tasks" / "t1.pb"));
}

TEST_F(ReconcilerTest, TaskNetworkingGivesEachTaskItsNamespaceAndAddress) {
  auto a = Assignment("t1");
  a.set_network_mode("task");
  a.mutable_ports(0)->set_container_port(0);  // dynamic: the same port inside
  Desire({a, Assignment("t2")});
  reconciler_->Tick();
  auto spec = runtime_.SpecOf("t1-httpd");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->netns_path, "/run/netns/t1");
  EXPECT_THAT(spec->env, Contains("GANTRY_TASK_ADDRESS=10.200.3.7"));
  ASSERT_EQ(network_.last_ports.size(), 1u);
  EXPECT_EQ(network_.last_ports[0].host_port, 20001u);
  EXPECT_EQ(network_.last_ports[0].container_port, 20001u);
  EXPECT_EQ(StateOf("t1")->address(), "10.200.3.7");
  // Host networking is untouched.
  EXPECT_EQ(runtime_.SpecOf("t2-httpd")->netns_path, "/var/run/netns/n1");
  EXPECT_EQ(StateOf("t2")->address(), "");
  EXPECT_THAT(network_.Attached(), ElementsAre("t1"));

  // Stopping removes the network once the containers are gone; a failed
  // removal is tried again on the next pass.
  Desire({Assignment("t2")});
  reconciler_->Tick();
  runtime_.Exit("t1-httpd", 0);
  network_.detach_error = absl::InternalError("bridge: busy");
  reconciler_->Tick();
  EXPECT_THAT(network_.Attached(), ElementsAre("t1"));
  reconciler_->Tick();
  EXPECT_FALSE(runtime_.SpecOf("t1-httpd").has_value());  // removed, then forgotten
  EXPECT_TRUE(network_.Attached().empty());
}

TEST_F(ReconcilerTest, ANetworkThatCannotBeSetUpFailsTheTaskWithTheReason) {
  network_.attach_error = absl::InternalError("bridge: failed to allocate for range 0");
  auto a = Assignment("t1");
  a.set_network_mode("task");
  Desire({a});
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t1")->status(), Task::STOPPED);
  EXPECT_EQ(StateOf("t1")->reason(),
            "CannotSetUpNetworkError: bridge: failed to allocate for range 0");
  EXPECT_TRUE(runtime_.RunningIds().empty());
  // Without a subnet yet it only waits.
  network_.attach_error = absl::UnavailableError("waiting for the node's task subnet");
  Desire({Assignment("t2")});
  auto b = Assignment("t3");
  b.set_network_mode("task");
  Desire({b});
  reconciler_->Tick();
  EXPECT_EQ(StateOf("t3")->status(), Task::PENDING);
}

TEST_F(ReconcilerTest, ARestartChecksNetworksInUseAndRemovesTheOthers) {
  auto a = Assignment("t1");
  a.set_network_mode("task");
  Desire({a});
  reconciler_->Tick();
  network_.attached["gone"] = {"/run/netns/gone", "10.200.3.9"};  // no task uses it
  Restart();
  sequence_ = 0;
  Desire({a});
  reconciler_->Tick();
  EXPECT_EQ(network_.checks, 1);
  EXPECT_THAT(network_.Attached(), ElementsAre("t1"));
  EXPECT_EQ(StateOf("t1")->status(), Task::RUNNING);
  EXPECT_EQ(StateOf("t1")->address(), "10.200.3.7");

  // A network that no longer checks out stops its task.
  network_.check_result = absl::FailedPreconditionError("bridge: eth0 is gone");
  Restart();
  sequence_ = 0;
  Desire({a});
  reconciler_->Tick();
  EXPECT_THAT(StateOf("t1")->reason(), ::testing::HasSubstr("TaskNetworkError: bridge: eth0"));
}

}  // namespace
}  // namespace gantry::agent
