#include <gmock/gmock.h>

#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Node;
using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;

class NodeManagerTest : public ControlPlaneFixture {};

TEST_F(NodeManagerTest, RegistrationCreatesAnActiveNode) {
  auto conn = Register("n1", "a");
  auto n = state_->GetNode("n1");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->value.status(), Node::ACTIVE);
  EXPECT_EQ(n->value.zone(), "a");
  EXPECT_TRUE(nodes_->IsConnected("n1"));
  ASSERT_FALSE(conn->sent().empty());
  EXPECT_TRUE(conn->sent()[0].has_registered());
}

TEST_F(NodeManagerTest, InvalidRegistrationIsRefused) {
  gantry::v1::RegisterRequest r;
  r.set_node_name("n1");
  auto st = nodes_->Register(std::make_shared<RecordingConnection>(), r);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(state_->GetNode("n1").has_value());
}

TEST_F(NodeManagerTest, PushesTheCompleteDesiredSetWithGrowingSequence) {
  auto conn = Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(2).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  nodes_->Tick();
  auto desired = conn->LastDesired();
  ASSERT_TRUE(desired.has_value());
  ASSERT_EQ(desired->tasks_size(), 2);
  EXPECT_EQ(desired->tasks(0).containers(0).image(), "example.org/demo/busybox:1");
  EXPECT_EQ(desired->tasks(0).ports_size(), 1);
  const int64_t first = desired->sequence();

  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(1);
  ASSERT_TRUE(api_->ScaleService(scale).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  nodes_->Tick();
  desired = conn->LastDesired();
  EXPECT_EQ(desired->tasks_size(), 1);
  EXPECT_GT(desired->sequence(), first);
}

TEST_F(NodeManagerTest, StatusReportsDriveTaskState) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(1).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const std::string id = Tasks()[0].id();
  Report("n1", id, Task::RUNNING);
  auto t = state_->GetTask(id)->value;
  EXPECT_EQ(t.last_status(), Task::RUNNING);
  EXPECT_TRUE(t.has_started_at());
  // A report from another node about this task is ignored.
  Report("n2", id, Task::STOPPED);
  EXPECT_EQ(state_->GetTask(id)->value.last_status(), Task::RUNNING);
  Report("n1", id, Task::STOPPED, "Essential container httpd exited with code 3");
  t = state_->GetTask(id)->value;
  EXPECT_EQ(t.last_status(), Task::STOPPED);
  EXPECT_EQ(t.desired_status(), Task::STOPPED);
  EXPECT_TRUE(t.failed());
  // STOPPED is final.
  Report("n1", id, Task::RUNNING);
  EXPECT_EQ(state_->GetTask(id)->value.last_status(), Task::STOPPED);
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("exited with code 3")));
}

TEST_F(NodeManagerTest, HealthTransitionsAreEventsWithTheProbesOutput) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(1).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const std::string id = Tasks()[0].id();
  auto report = [&](Task::Health health, const std::string& output) {
    gantry::v1::TaskStatusReport r;
    auto* ts = r.add_tasks();
    ts->set_task_id(id);
    ts->set_status(Task::RUNNING);
    ts->set_health(health);
    auto* c = ts->add_containers();
    c->set_name("httpd");
    c->set_health(health);
    c->set_health_output(output);
    nodes_->OnStatus("n1", r);
  };
  report(Task::UNKNOWN, "");
  EXPECT_THAT(EventMessages("web"), ::testing::Not(Contains(HasSubstr("is UNKNOWN"))))
      << "a task starting without a verdict yet is not an event";
  report(Task::HEALTHY, "HTTP 200");
  report(Task::UNHEALTHY, "HTTP 503: upstream down");
  EXPECT_THAT(EventMessages("web"),
              Contains(HasSubstr(absl::StrCat("task ", id.substr(0, 8), " is HEALTHY"))));
  EXPECT_THAT(EventMessages("web"),
              Contains(HasSubstr("is UNHEALTHY (httpd: HTTP 503: upstream down)")));
  EXPECT_EQ(state_->GetTask(id)->value.health(), Task::UNHEALTHY);
}

TEST_F(NodeManagerTest, AContainersTransitionIsAnEventWhenTheTasksHealthStays) {
  Register("n1", "a");
  gantry::v1::ApplyRequest req;
  auto td = WebTd();
  auto* side = td.add_containers();
  *side = td.containers(0);
  side->set_name("sidecar");
  side->clear_port_mappings();
  *req.add_task_definitions() = td;
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web");
  s->set_desired_count(1);
  ASSERT_TRUE(api_->Apply(req).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const std::string id = Tasks()[0].id();
  auto report = [&](Task::Health httpd, Task::Health sidecar, Task::Health task) {
    gantry::v1::TaskStatusReport r;
    auto* ts = r.add_tasks();
    ts->set_task_id(id);
    ts->set_status(Task::RUNNING);
    ts->set_health(task);
    auto* a = ts->add_containers();
    a->set_name("httpd");
    a->set_health(httpd);
    a->set_health_output(httpd == Task::UNHEALTHY ? "HTTP 503" : "HTTP 200");
    auto* b = ts->add_containers();
    b->set_name("sidecar");
    b->set_health(sidecar);
    b->set_health_output(sidecar == Task::UNHEALTHY ? "exit 1" : "ok");
    nodes_->OnStatus("n1", r);
  };
  report(Task::HEALTHY, Task::HEALTHY, Task::HEALTHY);
  report(Task::UNHEALTHY, Task::HEALTHY, Task::UNHEALTHY);
  // The sidecar fails too: the task stays UNHEALTHY, the sidecar's change
  // is still recorded.
  report(Task::UNHEALTHY, Task::UNHEALTHY, Task::UNHEALTHY);
  EXPECT_THAT(EventMessages("web"),
              Contains(HasSubstr(absl::StrCat("task ", id.substr(0, 8),
                                              ": container sidecar is UNHEALTHY (exit 1)"))));
  report(Task::HEALTHY, Task::UNHEALTHY, Task::UNHEALTHY);
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("container httpd is HEALTHY (HTTP 200)")));
}

TEST_F(NodeManagerTest, SilentNodesGoDownAndComeBack) {
  auto conn = Register("n1", "a");
  nodes_->OnDisconnect("n1", conn.get());
  clock_.Advance(absl::Seconds(5));
  nodes_->Tick();
  EXPECT_EQ(state_->GetNode("n1")->value.status(), Node::ACTIVE) << "still within the grace";
  clock_.Advance(absl::Seconds(6));
  nodes_->Tick();
  EXPECT_EQ(state_->GetNode("n1")->value.status(), Node::DOWN);
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("node n1 is DOWN")));
  Register("n1", "a");
  EXPECT_EQ(state_->GetNode("n1")->value.status(), Node::ACTIVE);
  EXPECT_THAT(EventMessages(), Contains("node n1 is back and ACTIVE"));
}

TEST_F(NodeManagerTest, AConnectedNodeWithoutHeartbeatsGoesDown) {
  Register("n1", "a");
  clock_.Advance(absl::Seconds(9));
  nodes_->OnHeartbeat("n1");
  clock_.Advance(absl::Seconds(9));
  nodes_->Tick();
  EXPECT_EQ(state_->GetNode("n1")->value.status(), Node::ACTIVE);
  clock_.Advance(absl::Seconds(2));
  nodes_->Tick();
  EXPECT_EQ(state_->GetNode("n1")->value.status(), Node::DOWN);
  nodes_->OnHeartbeat("n1");
  EXPECT_EQ(state_->GetNode("n1")->value.status(), Node::ACTIVE);
}

TEST_F(NodeManagerTest, ANewConnectionReplacesTheOldOne) {
  auto first = Register("n1", "a");
  auto second = Register("n1", "a");
  EXPECT_TRUE(first->closed_);
  nodes_->OnDisconnect("n1", first.get());
  EXPECT_TRUE(nodes_->IsConnected("n1")) << "the old stream ending must not unregister the new";
}

TEST_F(NodeManagerTest, TasksTheAgentNoLongerHasAreMarkedStoppedOnRegistration) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(1).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const std::string id = Tasks()[0].id();
  Report("n1", id, Task::RUNNING);
  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(0);
  ASSERT_TRUE(api_->ScaleService(scale).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  EXPECT_EQ(state_->GetTask(id)->value.last_status(), Task::STOPPING);
  // The agent restarts and reports nothing: the task is gone.
  Register("n1", "a");
  EXPECT_EQ(state_->GetTask(id)->value.last_status(), Task::STOPPED);
}

TEST_F(NodeManagerTest, LogRequestsGoToTheTasksNode) {
  auto conn = Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(1).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const Task task = Tasks()[0];
  std::vector<std::string> got;
  bool eof = false;
  gantry::v1::GetLogsRequest req;
  req.set_tail_lines(5);
  auto id = nodes_->OpenLogs(task, req, [&](const gantry::v1::LogData& d) {
    got.push_back(d.data());
    eof |= d.eof();
  });
  ASSERT_TRUE(id.ok());
  bool asked = false;
  for (const auto& m : conn->sent()) {
    if (m.has_log_request()) {
      asked = true;
      EXPECT_EQ(m.log_request().task_id(), task.id());
      EXPECT_EQ(m.log_request().tail_lines(), 5);
    }
  }
  EXPECT_TRUE(asked);
  gantry::v1::LogData data;
  data.set_request_id(*id);
  data.set_data("hello\n");
  nodes_->OnLogData("n1", data);
  data.set_data("");
  data.set_eof(true);
  nodes_->OnLogData("n1", data);
  EXPECT_EQ(got[0], "hello\n");
  EXPECT_TRUE(eof);
  // A disconnected node cannot serve logs, and says so.
  nodes_->OnDisconnect("n1", conn.get());
  auto refused = nodes_->OpenLogs(task, req, [](const gantry::v1::LogData&) {});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("not connected"));
}

}  // namespace
}  // namespace gantry::testing
