// Balancer on a fake HAProxy and a fake control plane: what reaches HAProxy
// for each change of endpoints (a start, a reload, or only runtime API
// weight commands), how failures are kept and retried, and that the loop
// polls on the injected clock and rides out an unreachable control plane.
// Tests wait for the loop to have polled, never for time to pass.

#include "lb/balancer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "tests/fakes/fake_endpoints_source.h"
#include "tests/fakes/fake_haproxy.h"

namespace gantry::lb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr uint32_t kPort = 8080;
constexpr uint32_t kTestPort = 8081;
const std::string kBlue = "aaaaaaaaaaaaaaaaaaaa";
const std::string kGreen = "bbbbbbbbbbbbbbbbbbbb";
constexpr absl::Duration kPoll = absl::Hours(1);

struct Backend {
  std::string task_id;
  std::string address = "10.0.0.2";
  uint32_t port = 20001;
  int weight = 128;
};

gantry::v1::ListEndpointsResponse Endpoints(const std::vector<Backend>& backends,
                                            bool test_port = false) {
  gantry::v1::ListEndpointsResponse e;
  auto* l = e.add_listeners();
  l->set_service("web");
  l->set_port(kPort);
  for (const auto& b : backends) {
    auto* out = l->add_backends();
    out->set_task_id(b.task_id);
    out->set_address(b.address);
    out->set_port(b.port);
    out->set_weight(b.weight);
  }
  if (test_port) {
    auto* t = e.add_listeners();
    t->set_service("web");
    t->set_port(kTestPort);
    t->set_test(true);
  }
  return e;
}

// Blue and green behind one listener, green taking `green_weight` of 256.
gantry::v1::ListEndpointsResponse BlueGreen(int green_weight) {
  return Endpoints(
      {{kBlue, "10.0.0.2", 20001, 256 - green_weight}, {kGreen, "10.0.0.3", 20002, green_weight}});
}

std::string SetWeight(const std::string& task_id, int weight) {
  return absl::StrCat("set weight ", BackendName(kPort), "/", ServerName(task_id), " ", weight);
}

// Makes the default logger a ring buffer for the test's life, to count the
// warnings the Balancer logs.
class CapturedLog {
 public:
  CapturedLog()
      : saved_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("balancer_test", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(saved_); }

  // Warnings that contain `part`.
  int Warnings(const std::string& part) {
    int n = 0;
    for (const auto& m : sink_->last_raw()) {
      if (m.level == spdlog::level::warn &&
          absl::StrContains(absl::string_view(m.payload.data(), m.payload.size()), part)) {
        n++;
      }
    }
    return n;
  }

 private:
  std::shared_ptr<spdlog::logger> saved_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

// A clock that moves on by `step` each time it is read. The loop's polls,
// an hour apart on it, come due by themselves within a few reads; in real
// time they would not come at all, so a test that sees them shows that the
// loop runs on the injected clock. Tests wait for the polls to have
// happened, never for time.
class TickingClock final : public Clock {
 public:
  explicit TickingClock(absl::Duration step) : step_(step) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += step_;
    return now_;
  }

 private:
  const absl::Duration step_;
  mutable std::mutex mu_;
  mutable absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

// Runs the balancer's loop on a thread; stops and joins it when told or
// when the test leaves, also through a failed assertion.
class Running {
 public:
  explicit Running(Balancer& balancer)
      : balancer_(balancer), thread_([&balancer] { balancer.Run(); }) {}
  ~Running() { Stop(); }
  void Stop() {
    balancer_.Stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  Balancer& balancer_;
  std::thread thread_;
};

class BalancerTest : public ::testing::Test {
 protected:
  static Balancer::Options Options() {
    Balancer::Options o;
    o.settings.bind_address = "127.0.0.1";
    o.settings.admin_socket = "/run/gantry-lb/admin.sock";
    o.settings.pid_file = "/run/gantry-lb/haproxy.pid";
    o.poll_interval = kPoll;
    o.look_again = absl::Milliseconds(1);
    return o;
  }
  std::string Rendered(const gantry::v1::ListEndpointsResponse& e) const {
    return Render(LayoutOf(e), Options().settings);
  }

  testing::FakeHaproxy haproxy_;
  testing::FakeEndpointsSource source_;
  TickingClock clock_{absl::Minutes(20)};
  Balancer balancer_{&haproxy_, &source_, &clock_, Options()};
};

TEST_F(BalancerTest, FirstSyncStartsHaproxyWithTheRenderedConfig) {
  ASSERT_TRUE(balancer_.Sync(BlueGreen(64)).ok());
  EXPECT_THAT(haproxy_.configs(), ElementsAre(Rendered(BlueGreen(64))));
  EXPECT_THAT(haproxy_.commands(), IsEmpty());
  EXPECT_EQ(haproxy_.pid(), testing::FakeHaproxy::kPid);
}

TEST_F(BalancerTest, AChangeOfWeightsOnlySetsWeightsAndNeverReloads) {
  ASSERT_TRUE(balancer_.Sync(BlueGreen(64)).ok());
  ASSERT_TRUE(balancer_.Sync(BlueGreen(128)).ok());
  ASSERT_TRUE(balancer_.Sync(BlueGreen(256)).ok());
  EXPECT_THAT(haproxy_.configs(), SizeIs(1));
  EXPECT_THAT(haproxy_.commands(), ElementsAre(SetWeight(kBlue, 128), SetWeight(kGreen, 128),
                                               SetWeight(kBlue, 0), SetWeight(kGreen, 256)));
}

TEST_F(BalancerTest, AChangeOfListenersOrServersReloads) {
  const std::vector<gantry::v1::ListEndpointsResponse> steps = {
      Endpoints({{kBlue}}),
      Endpoints({{kBlue}, {kGreen}}),                         // a server more
      Endpoints({{kBlue}, {kGreen}}, /*test_port=*/true),     // a listener more
      Endpoints({{kGreen}}, /*test_port=*/true),              // a server less
      Endpoints({{kGreen, "10.0.0.9"}}, /*test_port=*/true),  // a server moved
      Endpoints({{kGreen, "10.0.0.9"}}),                      // a listener less
  };
  std::vector<std::string> expected;
  for (const auto& e : steps) {
    ASSERT_TRUE(balancer_.Sync(e).ok());
    expected.push_back(Rendered(e));
  }
  EXPECT_EQ(haproxy_.configs(), expected);
  EXPECT_THAT(haproxy_.commands(), IsEmpty());
}

TEST_F(BalancerTest, AFailedStartIsRetriedByTheNextSync) {
  haproxy_.FailApply(absl::UnavailableError("haproxy exited at start"));
  EXPECT_FALSE(balancer_.Sync(BlueGreen(64)).ok());
  EXPECT_EQ(haproxy_.pid(), -1);
  haproxy_.FailApply(absl::OkStatus());
  ASSERT_TRUE(balancer_.Sync(BlueGreen(64)).ok());
  EXPECT_THAT(haproxy_.configs(), ElementsAre(Rendered(BlueGreen(64))));
  EXPECT_EQ(haproxy_.attempts(), 2);
}

TEST_F(BalancerTest, AFailedReloadKeepsThePreviousLayoutSoTheNextSyncRetries) {
  const auto before = Endpoints({{kBlue}});
  const auto after = Endpoints({{kBlue}, {kGreen}});
  ASSERT_TRUE(balancer_.Sync(before).ok());
  haproxy_.FailApply(absl::InvalidArgumentError("haproxy rejects the configuration: line 3"));
  const absl::Status st = balancer_.Sync(after);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("haproxy rejects the configuration"));
  // Still failing: tried again, not taken as done.
  EXPECT_FALSE(balancer_.Sync(after).ok());
  EXPECT_EQ(haproxy_.attempts(), 3);
  haproxy_.FailApply(absl::OkStatus());
  ASSERT_TRUE(balancer_.Sync(after).ok());
  EXPECT_THAT(haproxy_.configs(), ElementsAre(Rendered(before), Rendered(after)));
}

TEST_F(BalancerTest, AFailedCommandIsAnErrorNamingItAndIsRetried) {
  ASSERT_TRUE(balancer_.Sync(BlueGreen(64)).ok());
  haproxy_.FailCommands(ServerName(kGreen));
  const absl::Status st = balancer_.Sync(BlueGreen(128));
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(SetWeight(kGreen, 128)));
  EXPECT_THAT(std::string(st.message()), HasSubstr("No such server"));
  haproxy_.FailCommands("");
  ASSERT_TRUE(balancer_.Sync(BlueGreen(128)).ok());
  // Setting a weight twice is harmless; what matters is that green's lands.
  EXPECT_THAT(haproxy_.commands(),
              ElementsAre(SetWeight(kBlue, 128), SetWeight(kBlue, 128), SetWeight(kGreen, 128)));
  EXPECT_THAT(haproxy_.configs(), SizeIs(1));
}

TEST_F(BalancerTest, IdenticalEndpointsDoNothing) {
  ASSERT_TRUE(balancer_.Sync(BlueGreen(64)).ok());
  ASSERT_TRUE(balancer_.Sync(BlueGreen(64)).ok());
  ASSERT_TRUE(balancer_.Sync(BlueGreen(64)).ok());
  EXPECT_EQ(haproxy_.attempts(), 1);
  EXPECT_THAT(haproxy_.commands(), IsEmpty());
}

TEST_F(BalancerTest, AnUnreachableControlPlaneIsLoggedOncePerOutage) {
  CapturedLog log;
  source_.Set(BlueGreen(64));
  ASSERT_TRUE(balancer_.Poll().ok());
  source_.SetDown(absl::UnavailableError("failed to connect to all addresses"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(balancer_.Poll().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(log.Warnings("failed to connect"), 1);
  EXPECT_THAT(haproxy_.configs(), ElementsAre(Rendered(BlueGreen(64))));
  // Back, then gone again: a new outage, logged again.
  source_.SetDown(absl::OkStatus());
  ASSERT_TRUE(balancer_.Poll().ok());
  source_.SetDown(absl::UnavailableError("failed to connect to all addresses"));
  EXPECT_FALSE(balancer_.Poll().ok());
  EXPECT_EQ(log.Warnings("failed to connect"), 2);
  EXPECT_EQ(haproxy_.attempts(), 1);
  EXPECT_THAT(haproxy_.commands(), IsEmpty());
}

TEST_F(BalancerTest, AnInvalidBackendIsLeftOutAndLoggedOnceWhileItLasts) {
  CapturedLog log;
  const auto with_bad = Endpoints({{kBlue}, {kGreen, "10.0.0.3\n  server evil 6.6.6.6:80"}});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(balancer_.Sync(with_bad).ok());
  EXPECT_EQ(log.Warnings(absl::StrCat("backend task \"", kGreen, "\": address")), 1);
  EXPECT_THAT(haproxy_.configs(), ElementsAre(Rendered(Endpoints({{kBlue}}))))
      << "the rest is served, the bad backend never written";
  // Gone, then back: logged again.
  ASSERT_TRUE(balancer_.Sync(Endpoints({{kBlue}})).ok());
  ASSERT_TRUE(balancer_.Sync(with_bad).ok());
  EXPECT_EQ(log.Warnings("server evil"), 2);
  EXPECT_EQ(haproxy_.attempts(), 1) << "the layout never changed";
}

TEST_F(BalancerTest, RunKeepsTheLastLayoutWhileTheControlPlaneIsDownAndLogsOnce) {
  CapturedLog log;
  source_.Set(BlueGreen(64));
  Running running(balancer_);
  ASSERT_TRUE(source_.WaitForCalls(1));
  source_.SetDown(absl::UnavailableError("failed to connect to all addresses"));
  // Two polls that found the control plane down have finished once a third
  // one began.
  ASSERT_TRUE(source_.WaitForCalls(source_.calls() + 3));
  running.Stop();
  EXPECT_THAT(haproxy_.configs(), ElementsAre(Rendered(BlueGreen(64))));
  EXPECT_THAT(haproxy_.commands(), IsEmpty());
  EXPECT_EQ(log.Warnings("failed to connect"), 1);
  EXPECT_EQ(haproxy_.stops(), 1);
}

TEST_F(BalancerTest, RunSendsWeightChangesFromTheControlPlane) {
  source_.Set(BlueGreen(64));
  Running running(balancer_);
  ASSERT_TRUE(source_.WaitForCalls(1));
  source_.Set(BlueGreen(128));
  // The poll that read the new weights is done once the next one began.
  ASSERT_TRUE(source_.WaitForCalls(source_.calls() + 2));
  running.Stop();
  EXPECT_THAT(haproxy_.configs(), ElementsAre(Rendered(BlueGreen(64))));
  EXPECT_THAT(haproxy_.commands(), ElementsAre(SetWeight(kBlue, 128), SetWeight(kGreen, 128)));
}

}  // namespace
}  // namespace gantry::lb
