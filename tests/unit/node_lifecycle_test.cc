// Node lifecycle on the control plane: lost nodes, storms, status checks,
// draining and zone rebalancing, driven with a fake clock.

#include <gmock/gmock.h>

#include <map>

#include "common/time_util.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Node;
using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class NodeLifecycleTest : public ControlPlaneFixture {
 protected:
  void Reconcile() { ASSERT_TRUE(controller_->Reconcile("web").ok()); }
  // Plays every agent: pending tasks start, stopping tasks stop; then the
  // settle time passes, so tasks without health checks count as healthy.
  void AgentsCatchUp() {
    for (const auto& t : Tasks()) {
      if (t.desired_status() == Task::RUNNING && t.last_status() == Task::PENDING) {
        Report(t.node(), t.id(), Task::RUNNING);
      } else if (t.desired_status() == Task::STOPPED && t.last_status() != Task::LOST) {
        Report(t.node(), t.id(), Task::STOPPED);
      }
    }
    clock_.Advance(absl::Seconds(5));
  }
  // Reconcile and let agents act until nothing changes.
  void Settle() {
    for (int i = 0; i < 20; ++i) {
      const int64_t before = store_->Revision();
      Reconcile();
      AgentsCatchUp();
      if (store_->Revision() == before) return;
    }
  }
  std::map<std::string, int> PerZone() {
    std::map<std::string, int> out;
    for (const auto& t : Tasks()) {
      if (t.desired_status() == Task::RUNNING) out[t.zone()]++;
    }
    return out;
  }
  int Running() {
    int n = 0;
    for (const auto& t : Tasks()) n += t.last_status() == Task::RUNNING ? 1 : 0;
    return n;
  }
  // Zone a is lost and comes back; the service of six tasks then
  // rebalances under the given limits. Returns the fewest and the most
  // tasks running while it moved.
  std::pair<int, int> RebalanceUnder(int min_percent, int max_percent) {
    auto a = Register("a1", "a");
    Register("b1", "b");
    Register("c1", "c");
    gantry::v1::ApplyRequest req;
    *req.add_task_definitions() = WebTd();
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(6);
    s->mutable_deployment_configuration()->set_minimum_healthy_percent(min_percent);
    s->mutable_deployment_configuration()->set_maximum_percent(max_percent);
    EXPECT_TRUE(api_->Apply(req).ok());
    Settle();
    LoseNode("a1", a.get());
    Settle();
    EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"b", 3}, {"c", 3}}));
    Register("a1", "a");
    int fewest = Running();
    int most = fewest;
    for (int i = 0; i < 30; ++i) {
      Reconcile();
      // Agents act one task at a time, so every intermediate count is seen.
      for (const auto& t : Tasks()) {
        if (t.desired_status() == Task::RUNNING && t.last_status() == Task::PENDING) {
          Report(t.node(), t.id(), Task::RUNNING);
        } else if (t.desired_status() == Task::STOPPED && t.last_status() != Task::LOST) {
          Report(t.node(), t.id(), Task::STOPPED);
        } else {
          continue;
        }
        fewest = std::min(fewest, Running());
        most = std::max(most, Running());
      }
      clock_.Advance(absl::Seconds(5));
    }
    return {fewest, most};
  }
  // The node's agent goes silent for longer than the grace: it is DOWN and
  // its tasks LOST (within the storm limit).
  void LoseNode(const std::string& node, RecordingConnection* conn) {
    Silence(node, conn);
    Pass(absl::Seconds(11));
    nodes_->Tick();
  }
  int Lost() {
    int n = 0;
    for (const auto& t : Tasks(true)) n += t.last_status() == Task::LOST ? 1 : 0;
    return n;
  }
  void Silence(const std::string& node, RecordingConnection* conn) {
    nodes_->OnDisconnect(node, conn);
  }
  // Lets time pass; connected agents keep sending heartbeats meanwhile.
  void Pass(absl::Duration d) {
    for (absl::Duration done; done < d; done += absl::Seconds(1)) {
      clock_.Advance(absl::Seconds(1));
      for (const auto& n : state_->ListNodes()) {
        if (nodes_->IsConnected(n.name())) nodes_->OnHeartbeat(n.name());
      }
    }
  }
};

TEST_F(NodeLifecycleTest, ALostNodesTasksAreReplacedElsewhere) {
  auto a = Register("a1", "a");
  Register("b1", "b");
  Register("c1", "c");
  ASSERT_TRUE(ApplyWeb(6).ok());
  Settle();
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  LoseNode("a1", a.get());
  EXPECT_EQ(state_->GetNode("a1")->value.status(), Node::DOWN);
  int lost = 0;
  for (const auto& t : Tasks(true)) {
    if (t.last_status() != Task::LOST) continue;
    lost++;
    EXPECT_EQ(t.desired_status(), Task::STOPPED);
    EXPECT_THAT(t.stopped_reason(), HasSubstr("Node a1 is DOWN: no heartbeat for 11s"));
  }
  EXPECT_EQ(lost, 2);
  Settle();
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"b", 3}, {"c", 3}}));
  EXPECT_EQ(Running(), 6);
}

TEST_F(NodeLifecycleTest, TheReturningNodeIsToldToStopItsStaleTasks) {
  auto a = Register("a1", "a");
  Register("b1", "b");
  ASSERT_TRUE(ApplyWeb(2).ok());
  Settle();
  std::string stale;
  for (const auto& t : Tasks()) {
    if (t.node() == "a1") stale = t.id();
  }
  LoseNode("a1", a.get());
  Settle();
  // The agent comes back still running the stale task.
  gantry::v1::RegisterRequest r;
  r.set_node_name("a1");
  r.set_zone("a");
  r.set_address("10.0.0.1");
  r.mutable_capacity()->set_cpu(4000);
  r.mutable_capacity()->set_memory(int64_t{8} << 30);
  r.set_port_range_start(20000);
  r.set_port_range_end(20100);
  auto* ts = r.add_tasks();
  ts->set_task_id(stale);
  ts->set_status(Task::RUNNING);
  auto back = std::make_shared<RecordingConnection>();
  ASSERT_TRUE(nodes_->Register(back, r).ok());
  nodes_->Tick();
  auto desired = back->LastDesired();
  ASSERT_TRUE(desired.has_value());
  for (const auto& t : desired->tasks()) EXPECT_NE(t.task_id(), stale);
  EXPECT_EQ(state_->GetTask(stale)->value.last_status(), Task::LOST);
  Report("a1", stale, Task::STOPPED);
  EXPECT_EQ(state_->GetTask(stale)->value.last_status(), Task::STOPPED);
}

TEST_F(NodeLifecycleTest, AStormIsReplacedAtALimitedRate) {
  std::vector<std::shared_ptr<RecordingConnection>> conns;
  for (int i = 0; i < 4; ++i) conns.push_back(Register("a" + std::to_string(i), "a"));
  Register("b1", "b");
  ASSERT_TRUE(ApplyWeb(40).ok());
  Settle();
  // Three of zone a's four nodes vanish at once: a storm.
  for (int i = 0; i < 3; ++i) Silence("a" + std::to_string(i), conns[i].get());
  Pass(absl::Seconds(11));
  nodes_->Tick();
  EXPECT_EQ(Lost(), 10) << "storm_rate per window";
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("3 of 4 nodes of zone a are DOWN at once")));
  Pass(absl::Seconds(10));
  nodes_->Tick();
  EXPECT_EQ(Lost(), 15) << "the rest of the three nodes' tasks";
}

TEST_F(NodeLifecycleTest, ARetiredNodeCanBeDeletedOnceDown) {
  auto a = Register("a1", "a");
  Register("b1", "b");
  ASSERT_TRUE(ApplyWeb(2).ok());
  Settle();
  gantry::v1::DeleteNodeRequest del;
  del.set_name("a1");
  auto r = api_->DeleteNode(del);
  ASSERT_FALSE(r.ok()) << "a connected node is not deleted";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("drain it"));
  // Its agent goes away for good; its task is LOST and replaced.
  LoseNode("a1", a.get());
  Settle();
  std::string lost;
  for (const auto& t : Tasks(true)) {
    if (t.node() == "a1") lost = t.id();
  }
  ASSERT_FALSE(lost.empty());
  ASSERT_EQ(state_->GetTask(lost)->value.last_status(), Task::LOST);
  r = api_->DeleteNode(del);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(state_->GetNode("a1").has_value());
  EXPECT_EQ(state_->GetTask(lost)->value.last_status(), Task::STOPPED);
  EXPECT_EQ(state_->GetTask(lost)->value.stopped_reason().empty(), false);
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("node a1 deleted")));
  EXPECT_EQ(api_->DeleteNode(del).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Running(), 2) << "the service is whole on the remaining node";
}

TEST_F(NodeLifecycleTest, OneLostNodeIsNeverAStorm) {
  // One of three nodes is 33% of the cluster, but a single node is not a
  // partition: all its tasks are replaced at once.
  auto a = Register("a1", "a");
  Register("b1", "b");
  Register("c1", "c");
  ASSERT_TRUE(ApplyWeb(45).ok());
  Settle();
  LoseNode("a1", a.get());
  EXPECT_EQ(Lost(), 15);
  EXPECT_THAT(EventMessages(), Not(Contains(HasSubstr("DOWN at once"))));
}

TEST_F(NodeLifecycleTest, FailingChecksKeepNewTasksAway) {
  Register("a1", "a");
  Register("b1", "b");
  google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck> checks;
  auto* instance = checks.Add();
  instance->set_name("instance");
  instance->set_passed(true);
  auto* storage = checks.Add();
  storage->set_name("storage");
  storage->set_passed(false);
  storage->set_message("/var/lib/containerd: 1Gi free (2%, below 10%)");
  nodes_->OnHeartbeat("b1", checks);
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("node b1: failing storage check")));
  ASSERT_TRUE(ApplyWeb(4).ok());
  Settle();
  for (const auto& t : Tasks()) EXPECT_EQ(t.node(), "a1");
  // The API shows the system check first, then the agent's.
  gantry::v1::GetNodeRequest get;
  get.set_name("b1");
  auto n = api_->GetNode(get);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->checks_size(), 3);
  EXPECT_EQ(n->checks(0).name(), "system");
  EXPECT_TRUE(n->checks(0).passed());
  EXPECT_FALSE(n->checks(2).passed());
  storage->set_passed(true);
  nodes_->OnHeartbeat("b1", checks);
  EXPECT_THAT(EventMessages(), Contains("node b1: storage check passes again"));
}

TEST_F(NodeLifecycleTest, DrainingMovesTasksAwayWithoutDroppingBelowDesired) {
  Register("a1", "a");
  Register("a2", "a");
  Register("b1", "b");
  ASSERT_TRUE(ApplyWeb(4).ok());
  Settle();
  gantry::v1::SetNodeStatusRequest drain;
  drain.set_name("a1");
  drain.set_status(Node::DRAINING);
  ASSERT_TRUE(api_->SetNodeStatus(drain).ok());
  Reconcile();
  // Replacements first: the drained node's tasks still run.
  EXPECT_EQ(Running(), 4);
  for (int i = 0; i < 10; ++i) {
    AgentsCatchUp();
    EXPECT_GE(Running(), 4);
    Reconcile();
  }
  for (const auto& t : Tasks()) EXPECT_NE(t.node(), "a1");
  EXPECT_EQ(Running(), 4);
  for (const auto& t : Tasks(true)) {
    if (t.node() == "a1") {
      EXPECT_EQ(t.stopped_reason(), "Node a1 is DRAINING");
    }
  }
  // Only ACTIVE and DRAINING can be asked for, of a node that exists.
  drain.set_name("nosuch");
  EXPECT_EQ(api_->SetNodeStatus(drain).status().code(), absl::StatusCode::kNotFound);
  drain.set_name("a1");
  drain.set_status(Node::DOWN);
  EXPECT_EQ(api_->SetNodeStatus(drain).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(NodeLifecycleTest, ADrainedNodeReturnsDrainingAfterBeingDown) {
  auto a = Register("a1", "a");
  auto b = Register("b1", "b");
  gantry::v1::SetNodeStatusRequest drain;
  drain.set_name("a1");
  drain.set_status(Node::DRAINING);
  ASSERT_TRUE(api_->SetNodeStatus(drain).ok());
  LoseNode("a1", a.get());
  ASSERT_EQ(state_->GetNode("a1")->value.status(), Node::DOWN);
  Register("a1", "a");
  EXPECT_EQ(state_->GetNode("a1")->value.status(), Node::DRAINING)
      << "coming back must not undo the operator's drain";
  EXPECT_THAT(EventMessages(""), Contains(HasSubstr("node a1 is back and DRAINING")));
  // A DOWN node can be drained or activated ahead of its return.
  LoseNode("b1", b.get());
  drain.set_name("b1");
  auto r = api_->SetNodeStatus(drain);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status(), Node::DOWN);
  EXPECT_THAT(EventMessages(""), Contains(HasSubstr("node b1 is DOWN; it will be DRAINING")));
  Register("b1", "b");
  EXPECT_EQ(state_->GetNode("b1")->value.status(), Node::DRAINING);
  // Activating clears the drain for good.
  drain.set_status(Node::ACTIVE);
  ASSERT_TRUE(api_->SetNodeStatus(drain).ok());
  EXPECT_EQ(state_->GetNode("b1")->value.status(), Node::ACTIVE);
  EXPECT_FALSE(state_->GetNode("b1")->value.drain_requested());
}

TEST_F(NodeLifecycleTest, ZonesAreRebalancedWhenAZoneComesBack) {
  auto a = Register("a1", "a");
  Register("b1", "b");
  Register("c1", "c");
  ASSERT_TRUE(ApplyWeb(6).ok());
  Settle();
  LoseNode("a1", a.get());
  Settle();
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"b", 3}, {"c", 3}}));
  Register("a1", "a");
  for (int i = 0; i < 30; ++i) {
    Reconcile();
    EXPECT_GE(Running(), 6) << "never below the desired count while moving";
    AgentsCatchUp();
  }
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("Zone rebalancing")));
}

TEST_F(NodeLifecycleTest, RebalancingMovesReplacementFirstWhateverTheMinimum) {
  // minimumHealthyPercent 50 would allow stopping first; a move never does.
  const auto [fewest, most] = RebalanceUnder(50, 200);
  EXPECT_EQ(fewest, 6);
  EXPECT_EQ(most, 7) << "one move at a time";
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
}

TEST_F(NodeLifecycleTest, RebalancingStaysWithinMaximumPercent) {
  // maximumPercent 100 leaves no room beside: stop first, as the minimum
  // allows.
  const auto [fewest, most] = RebalanceUnder(50, 100);
  EXPECT_EQ(most, 6) << "never above maximumPercent";
  EXPECT_EQ(fewest, 5);
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
}

TEST_F(NodeLifecycleTest, RebalancingWaitsWhenTheLimitsLeaveNoRoom) {
  // 90% of 6 rounds up to 6: no room below either.
  const auto [fewest, most] = RebalanceUnder(90, 100);
  EXPECT_EQ(fewest, 6);
  EXPECT_EQ(most, 6);
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"b", 3}, {"c", 3}}));
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("zone rebalancing waits")));
}

TEST_F(NodeLifecycleTest, RebalancingCanBeTurnedOff) {
  auto a = Register("a1", "a");
  Register("b1", "b");
  gantry::v1::ApplyRequest req;
  *req.add_task_definitions() = WebTd();
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web");
  s->set_desired_count(4);
  s->set_zone_rebalancing(false);
  LoseNode("a1", a.get());
  ASSERT_TRUE(api_->Apply(req).ok());
  Settle();
  Register("a1", "a");
  Settle();
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"b", 4}}));
}

TEST_F(NodeLifecycleTest, MemberOfIsHonoured) {
  Register("a1", "a");
  Register("b1", "b");
  Register("c1", "c");
  gantry::v1::ApplyRequest req;
  *req.add_task_definitions() = WebTd();
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web");
  s->set_desired_count(4);
  auto* c = s->mutable_placement()->add_constraints();
  c->set_type("memberOf");
  c->set_expression("zone in [b, c]");
  ASSERT_TRUE(api_->Apply(req).ok());
  Settle();
  EXPECT_EQ(PerZone(), (std::map<std::string, int>{{"b", 2}, {"c", 2}}));
}

}  // namespace
}  // namespace gantry::testing
