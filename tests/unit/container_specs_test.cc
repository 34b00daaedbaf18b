// How tasks become container specs and are read back from labels, and which
// containers get health checks.

#include "agent/container_specs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/health_targets.h"
#include "common/time_util.h"

namespace gantry::agent {
namespace {

using gantry::v1::Task;
using ::testing::Contains;

gantry::v1::TaskAssignment Assignment() {
  gantry::v1::TaskAssignment a;
  a.set_task_id("0123456789abcdef");
  a.set_service("web");
  a.set_task_definition("web:3");
  auto* c = a.add_containers();
  c->set_name("httpd");
  c->set_image("example.org/demo/busybox:1");
  c->add_command("httpd");
  c->set_essential(false);
  *c->mutable_stop_timeout() = ToProtoDuration(absl::Seconds(12));
  c->mutable_health_check()->mutable_http()->set_port("admin");
  (*a.mutable_image_digests())["httpd"] = "sha256:" + std::string(64, 'a');
  auto* p = a.add_ports();
  p->set_name("admin-http");
  p->set_host_port(20005);
  auto* q = a.add_ports();
  q->set_name("admin");
  q->set_host_port(20006);
  return a;
}

const TaskHost kHost{"n1", "a", "10.0.0.1", "/var/run/netns/n1"};

TEST(ContainerSpecs, ASpecCarriesEnvironmentLimitsAndLabels) {
  const auto a = Assignment();
  const auto containers = ContainersFor(a);
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].image, "example.org/demo/busybox@sha256:" + std::string(64, 'a'))
      << "pinned to the digest";
  const ContainerSpec spec = BuildContainerSpec(a, 0, containers[0], kHost, "/logs/httpd.log");
  EXPECT_EQ(spec.id, "0123456789abcdef-httpd");
  EXPECT_EQ(spec.hostname, "0123456789ab");
  EXPECT_EQ(spec.netns_path, "/var/run/netns/n1");
  EXPECT_EQ(spec.log_path, "/logs/httpd.log");
  EXPECT_THAT(spec.env, Contains("GANTRY_PORT_ADMIN_HTTP=20005"));
  EXPECT_THAT(spec.env, Contains("GANTRY_ADDR_ADMIN_HTTP=10.0.0.1:20005"));
  EXPECT_THAT(spec.env, Contains("GANTRY_NODE=n1"));
  EXPECT_EQ(spec.labels.at(kLabelNode), "n1");
  EXPECT_EQ(spec.labels.at(kLabelEssential), "false");
  EXPECT_EQ(spec.labels.at(kLabelStopTimeout), "12000");
}

TEST(ContainerSpecs, LabelsGiveBackWhatTheSpecWrote) {
  const auto a = Assignment();
  const auto written = ContainersFor(a)[0];
  const ContainerSpec spec = BuildContainerSpec(a, 0, written, kHost, "/logs/httpd.log");
  const TrackedContainer read = ContainerFromLabels(spec.id, "httpd", spec.labels);
  EXPECT_EQ(read.id, written.id);
  EXPECT_EQ(read.name, "httpd");
  EXPECT_EQ(read.image, written.image);
  EXPECT_EQ(read.essential, written.essential);
  EXPECT_EQ(read.stop_timeout, written.stop_timeout);
  EXPECT_TRUE(ContainerFromLabels("x", "y", {}).essential) << "the default";
}

TEST(HealthTargets, RunningCheckedContainersOfRunningTasksOnly) {
  TrackedTasks tasks;
  TrackedTask& t = tasks["t1"];
  t.task_id = "t1";
  t.assignment = Assignment();
  t.containers = ContainersFor(*t.assignment);
  t.started_at = absl::FromUnixSeconds(1'700'000'000);
  t.containers[0].state = ContainerState::kRunning;
  t.status = Task::PENDING;
  EXPECT_TRUE(HealthTargetsFor(tasks, "10.0.0.1").empty());
  t.status = Task::RUNNING;
  auto targets = HealthTargetsFor(tasks, "10.0.0.1");
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].container_id, "0123456789abcdef-httpd");
  EXPECT_EQ(targets[0].address, "10.0.0.1");
  EXPECT_EQ(targets[0].port, 20006u) << "the port the check names";
  EXPECT_EQ(targets[0].started, absl::FromUnixSeconds(1'700'000'000));
  t.containers[0].state = ContainerState::kStopped;
  EXPECT_TRUE(HealthTargetsFor(tasks, "10.0.0.1").empty());
}

}  // namespace
}  // namespace gantry::agent
