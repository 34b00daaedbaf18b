// The agent's /metrics: per-container resource use and health read at
// scrape time, and counters fed by the health monitor, the reconciler and
// image pulls.

#include "agent/metrics/agent_metrics.h"

#include <gmock/gmock.h>

#include "common/time_util.h"
#include "tests/fakes/fake_runtime.h"

namespace gantry::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class AgentMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ContainerSpec spec;
    spec.id = "t1-web";
    spec.labels = {{kLabelTaskId, "t1"}, {kLabelContainer, "web"}, {kLabelService, "shop"}};
    ASSERT_TRUE(runtime_.Create(spec).ok());
    ASSERT_TRUE(runtime_.Start("t1-web").ok());
    monitor_.SetObserver(&metrics_);
  }
  FakeClock clock_;
  FakeRuntime runtime_;
  HealthMonitor monitor_{&runtime_, &clock_, HealthMonitor::Options{0}};
  AgentMetrics metrics_{&runtime_, &monitor_, "node-1", "zone-a"};
};

constexpr char kLabels[] =
    "{container=\"web\",node=\"node-1\",service=\"shop\",task=\"t1\",zone=\"zone-a\"}";

TEST_F(AgentMetricsTest, ResourceUseOfRunningContainers) {
  runtime_.SetStats("t1-web", ContainerStats{12.5, 40 << 20, 64 << 20});
  const std::string text = metrics_.Render();
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("gantry_container_cpu_seconds_total", kLabels, " 12.5")));
  EXPECT_THAT(
      text, HasSubstr(absl::StrCat("gantry_container_memory_usage_bytes", kLabels, " ", 40 << 20)));
  EXPECT_THAT(
      text, HasSubstr(absl::StrCat("gantry_container_memory_limit_bytes", kLabels, " ", 64 << 20)));
  EXPECT_THAT(text, HasSubstr("gantry_containers_running{node=\"node-1\",zone=\"zone-a\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_agent_runtime_up{node=\"node-1\",zone=\"zone-a\"} 1"));
  // Unlimited memory has no limit series; a stopped container has none.
  runtime_.SetStats("t1-web", ContainerStats{13, 40 << 20, 0});
  EXPECT_THAT(metrics_.Render(), Not(HasSubstr("gantry_container_memory_limit_bytes{")));
  runtime_.Exit("t1-web", 0);
  EXPECT_THAT(metrics_.Render(), Not(HasSubstr("gantry_container_cpu_seconds_total{")));
}

TEST_F(AgentMetricsTest, AnUnansweringRuntimeIsReportedNotFatal) {
  runtime_.SetDown(true);
  const std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("gantry_agent_runtime_up{node=\"node-1\",zone=\"zone-a\"} 0"));
}

TEST_F(AgentMetricsTest, HealthChecksAreCountedAndTimed) {
  HealthTarget t;
  t.container_id = "t1-web";
  t.service = "shop";
  t.task = "t1";
  t.container = "web";
  t.check.add_command("CMD");
  t.check.add_command("true");
  *t.check.mutable_interval() = ToProtoDuration(absl::Seconds(5));
  *t.check.mutable_timeout() = ToProtoDuration(absl::Seconds(2));
  t.check.set_retries(1);
  t.started = clock_.Now();
  monitor_.Sync({t});
  clock_.Advance(absl::Seconds(1));
  monitor_.RunDue();
  std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr(absl::StrCat("gantry_container_healthy", kLabels, " 1")));
  EXPECT_THAT(text, HasSubstr("gantry_health_checks_total{container=\"web\",node=\"node-1\","
                              "result=\"pass\",service=\"shop\",task=\"t1\",zone=\"zone-a\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_health_check_duration_seconds_count{container=\"web\","
                              "node=\"node-1\",service=\"shop\",task=\"t1\",zone=\"zone-a\"} 1"));
  runtime_.SetExecResult("t1-web", ExecResult{1, "down"});
  clock_.Advance(absl::Seconds(5));
  monitor_.RunDue();
  text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr(absl::StrCat("gantry_container_healthy", kLabels, " 0")));
  EXPECT_THAT(text, HasSubstr("result=\"fail\",service=\"shop\",task=\"t1\",zone=\"zone-a\"} 1"));
  // A forgotten task's series go.
  metrics_.TaskForgotten("t1");
  EXPECT_THAT(metrics_.Render(), Not(HasSubstr("gantry_health_check")));
}

TEST_F(AgentMetricsTest, ExitsAndPullsAreCounted) {
  metrics_.ContainerExited("shop", "t1", "web");
  metrics_.ContainerExited("shop", "t1", "web");
  metrics_.ContainerExited("shop", "t2", "web");
  metrics_.ImagePulled(true, absl::Seconds(2));
  metrics_.ImagePulled(false, absl::Seconds(1));
  std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("gantry_container_exits_total{container=\"web\",node=\"node-1\","
                              "service=\"shop\",task=\"t1\",zone=\"zone-a\"} 2"));
  EXPECT_THAT(text, HasSubstr("gantry_image_pulls_total{node=\"node-1\",result=\"success\","
                              "zone=\"zone-a\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_image_pulls_total{node=\"node-1\",result=\"failure\","
                              "zone=\"zone-a\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_image_pull_duration_seconds_count{node=\"node-1\","
                              "zone=\"zone-a\"} 2"));
  metrics_.TaskForgotten("t1");
  text = metrics_.Render();
  EXPECT_THAT(text, Not(HasSubstr("gantry_container_exits_total{container=\"web\",node=\"node-1\","
                                  "service=\"shop\",task=\"t1\"")));
  EXPECT_THAT(text, HasSubstr("task=\"t2\",zone=\"zone-a\"} 1"));
}

}  // namespace
}  // namespace gantry::agent
