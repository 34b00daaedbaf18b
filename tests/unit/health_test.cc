#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/health/health_monitor.h"
#include "agent/health/health_policy.h"
#include "common/time_util.h"
#include "tests/fakes/fake_http_server.h"
#include "tests/fakes/fake_runtime.h"

namespace gantry::agent {
namespace {

using gantry::v1::Task;
using ::testing::HasSubstr;

TEST(HealthPolicy, RetriesAndStartPeriod) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  HealthPolicy p(3, absl::Seconds(10), t0);
  EXPECT_EQ(p.status(), Task::UNKNOWN);
  for (int i = 0; i < 5; ++i) p.Record(false, t0 + absl::Seconds(i));
  EXPECT_EQ(p.status(), Task::UNKNOWN) << "failures in the start period do not count";
  p.Record(false, t0 + absl::Seconds(11));
  p.Record(false, t0 + absl::Seconds(12));
  EXPECT_EQ(p.status(), Task::UNKNOWN);
  EXPECT_TRUE(p.Record(false, t0 + absl::Seconds(13)));
  EXPECT_EQ(p.status(), Task::UNHEALTHY);
  EXPECT_TRUE(p.Record(true, t0 + absl::Seconds(14)));
  EXPECT_EQ(p.status(), Task::HEALTHY);
  EXPECT_EQ(p.consecutive_failures(), 0);
}

TEST(HealthPolicy, APassDuringTheStartPeriodEndsTheGrace) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  HealthPolicy p(2, absl::Seconds(60), t0);
  p.Record(true, t0 + absl::Seconds(1));
  p.Record(false, t0 + absl::Seconds(2));
  p.Record(false, t0 + absl::Seconds(3));
  EXPECT_EQ(p.status(), Task::UNHEALTHY);
}

TEST(HealthPolicy, ACarriedStatusHoldsUntilTheProbesDecide) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  HealthPolicy healthy(2, absl::Seconds(60), t0, Task::HEALTHY);
  EXPECT_EQ(healthy.status(), Task::HEALTHY);
  healthy.Record(false, t0 + absl::Seconds(1));
  EXPECT_EQ(healthy.status(), Task::HEALTHY) << "one failure of two; no start period either";
  healthy.Record(false, t0 + absl::Seconds(2));
  EXPECT_EQ(healthy.status(), Task::UNHEALTHY);
  HealthPolicy unhealthy(2, absl::Seconds(60), t0, Task::UNHEALTHY);
  EXPECT_EQ(unhealthy.status(), Task::UNHEALTHY);
  unhealthy.Record(true, t0 + absl::Seconds(1));
  EXPECT_EQ(unhealthy.status(), Task::HEALTHY);
}

gantry::v1::HealthCheck Check(int retries = 2) {
  gantry::v1::HealthCheck c;
  *c.mutable_interval() = ToProtoDuration(absl::Seconds(5));
  *c.mutable_timeout() = ToProtoDuration(absl::Seconds(2));
  c.set_retries(retries);
  *c.mutable_start_period() = ToProtoDuration(absl::ZeroDuration());
  return c;
}

class HealthMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ContainerSpec spec;
    spec.id = "t1-web";
    ASSERT_TRUE(runtime_.Create(spec).ok());
    ASSERT_TRUE(runtime_.Start("t1-web").ok());
  }
  HealthTarget Target(gantry::v1::HealthCheck check) {
    HealthTarget t;
    t.container_id = "t1-web";
    t.check = std::move(check);
    t.address = "127.0.0.1";
    t.started = clock_.Now();
    return t;
  }
  FakeClock clock_;
  FakeRuntime runtime_;
  HealthMonitor monitor_{&runtime_, &clock_, HealthMonitor::Options{0}};
};

TEST_F(HealthMonitorTest, CommandProbesRunInTheContainerOnSchedule) {
  auto c = Check();
  c.add_command("CMD-SHELL");
  c.add_command("wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1");
  monitor_.Sync({Target(c)});
  monitor_.RunDue();
  EXPECT_TRUE(runtime_.ExecCalls().empty()) << "the first probe waits a second";
  clock_.Advance(absl::Seconds(1));
  monitor_.RunDue();
  ASSERT_EQ(runtime_.ExecCalls().size(), 1u);
  EXPECT_EQ(runtime_.ExecCalls()[0],
            (std::vector<std::string>{"/bin/sh", "-c",
                                      "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"}));
  EXPECT_EQ(monitor_.Get("t1-web").health, Task::HEALTHY);
  // Failures, one interval apart.
  runtime_.SetExecResult("t1-web", ExecResult{1, "wget: server returned error: HTTP/1.0 500"});
  monitor_.RunDue();
  EXPECT_EQ(runtime_.ExecCalls().size(), 1u) << "not due again yet";
  clock_.Advance(absl::Seconds(5));
  monitor_.RunDue();
  clock_.Advance(absl::Seconds(5));
  monitor_.RunDue();
  auto state = monitor_.Get("t1-web");
  EXPECT_EQ(state.health, Task::UNHEALTHY);
  EXPECT_THAT(state.output, HasSubstr("exit code 1: wget: server returned error"));
  // A timeout is a failure that says so.
  runtime_.SetExecResult("t1-web", absl::DeadlineExceededError("slow"));
  clock_.Advance(absl::Seconds(5));
  monitor_.RunDue();
  EXPECT_THAT(monitor_.Get("t1-web").output, HasSubstr("timed out after 2s"));
  // A container that goes away is forgotten.
  monitor_.Sync({});
  EXPECT_EQ(monitor_.Get("t1-web").health, Task::UNKNOWN);
}

// A start period is time that passed since the task started: the node's
// clock set an hour ahead neither ends it nor makes every probe due.
TEST_F(HealthMonitorTest, AClockStepDoesNotEndTheStartPeriod) {
  auto c = Check(/*retries=*/1);
  *c.mutable_start_period() = ToProtoDuration(absl::Seconds(30));
  c.add_command("CMD-SHELL");
  c.add_command("exit 1");
  runtime_.SetExecResult("t1-web", ExecResult{1, "not yet"});
  monitor_.Sync({Target(c)});
  clock_.Step(absl::Hours(1));
  monitor_.RunDue();
  EXPECT_TRUE(runtime_.ExecCalls().empty()) << "the first probe still waits a second";
  clock_.Advance(absl::Seconds(1));
  monitor_.RunDue();
  ASSERT_EQ(runtime_.ExecCalls().size(), 1u);
  EXPECT_EQ(monitor_.Get("t1-web").health, Task::UNKNOWN) << "a failure in the start period";
  clock_.Advance(absl::Seconds(30));
  monitor_.RunDue();
  EXPECT_EQ(monitor_.Get("t1-web").health, Task::UNHEALTHY) << "the start period is over";
}

TEST_F(HealthMonitorTest, HttpProbesPassOn2xxAnd3xx) {
  int code = 200;
  gantry::testing::FakeHttpServer server([&](const gantry::testing::HttpRequest& r) {
    gantry::testing::HttpResponse resp;
    resp.code = r.path == "/healthz" ? code : 404;
    return resp;
  });
  auto c = Check(1);
  c.mutable_http()->set_path("/healthz");
  auto t = Target(c);
  t.port = static_cast<uint32_t>(std::stoi(server.address().substr(10)));
  EXPECT_TRUE(RunProbe(&runtime_, t).passed);
  code = 302;
  EXPECT_TRUE(RunProbe(&runtime_, t).passed);
  code = 503;
  auto r = RunProbe(&runtime_, t);
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.output, HasSubstr("HTTP 503"));
}

TEST_F(HealthMonitorTest, TcpProbes) {
  gantry::testing::FakeHttpServer server(
      [](const gantry::testing::HttpRequest&) { return gantry::testing::HttpResponse(); });
  auto c = Check(1);
  c.mutable_tcp();
  auto t = Target(c);
  t.port = static_cast<uint32_t>(std::stoi(server.address().substr(10)));
  EXPECT_TRUE(RunProbe(&runtime_, t).passed);
  t.port = 1;  // nothing listens there
  auto r = RunProbe(&runtime_, t);
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.output, HasSubstr("connect 127.0.0.1:1"));
}

}  // namespace
}  // namespace gantry::agent
