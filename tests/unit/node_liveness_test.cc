// NodeLiveness on a fake clock: DOWN after the grace, revival, checks
// recorded on the node, the system check, tasks of DOWN nodes LOST, and a
// wall-clock step that changes none of it.

#include "controlplane/nodes/node_liveness.h"

#include <gmock/gmock.h>

#include "common/time_util.h"
#include "tests/fakes/recording_connection.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Node;
using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;
using Checks = google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>;

class NodeLivenessTest : public NodesFixture {
 protected:
  static Checks StorageCheck(bool passed, const std::string& message = "") {
    Checks checks;
    auto* c = checks.Add();
    c->set_name("storage");
    c->set_passed(passed);
    c->set_message(message);
    return checks;
  }

  nodes::AgentSessions sessions_{state_.get()};
  nodes::NodeLiveness liveness_{state_.get(), events_.get(), &clock_, &sessions_,
                                nodes::NodeLiveness::Options()};
};

TEST_F(NodeLivenessTest, ANodeNeverHeardFromIsDownAGraceAfterTheStart) {
  PutNode("n1", "a");
  clock_.Advance(absl::Seconds(9));
  liveness_.Check();
  EXPECT_EQ(GetNode("n1").status(), Node::ACTIVE) << "a restarted control plane waits";
  clock_.Advance(absl::Seconds(1));
  liveness_.Check();
  EXPECT_EQ(GetNode("n1").status(), Node::DOWN);
}

// A replica that takes over as leader has heard no agent yet: the grace
// counts from its takeover, not from its start long before.
TEST_F(NodeLivenessTest, ANewLeaderCountsTheGraceFromItsTakeover) {
  PutNode("n1", "a");
  clock_.Advance(absl::Minutes(30));  // a follower all this time
  liveness_.CountFrom(clock_.Monotonic());
  clock_.Advance(absl::Seconds(9));
  liveness_.Check();
  EXPECT_EQ(GetNode("n1").status(), Node::ACTIVE);
  clock_.Advance(absl::Seconds(1));
  liveness_.Check();
  EXPECT_EQ(GetNode("n1").status(), Node::DOWN);
}

TEST_F(NodeLivenessTest, ASilentNodeIsDownAndAHeartbeatRevivesIt) {
  PutNode("n1", "a");
  liveness_.OnHeartbeat("n1", {});
  const absl::Time heard = clock_.Now();
  clock_.Advance(absl::Seconds(10));
  liveness_.Check();
  const Node down = GetNode("n1");
  EXPECT_EQ(down.status(), Node::DOWN);
  EXPECT_EQ(FromProtoTime(down.last_heartbeat()), heard);
  EXPECT_THAT(EventMessages(), Contains("node n1 is DOWN: no heartbeat for 10s"));
  liveness_.OnHeartbeat("n1", {});
  EXPECT_EQ(GetNode("n1").status(), Node::ACTIVE);
  EXPECT_THAT(EventMessages(), Contains("node n1 is back and ACTIVE"));
}

// The control plane's wall clock set an hour ahead (an operator, NTP after
// a long drift) is no hour of silence: no node goes DOWN, no task is LOST.
// Set back, it hides no silence either.
TEST_F(NodeLivenessTest, AWallClockStepIsNoSilence) {
  PutNode("n1", "a");
  PutTask("task0001", "n1", Task::RUNNING, Task::RUNNING);
  liveness_.OnHeartbeat("n1", {});
  clock_.Step(absl::Hours(1));
  liveness_.Check();
  EXPECT_EQ(GetNode("n1").status(), Node::ACTIVE);
  EXPECT_EQ(GetTask("task0001").last_status(), Task::RUNNING);
  // No stream is attached in this fixture; the silence it reports is none,
  // not an hour.
  EXPECT_EQ(liveness_.SystemCheck(GetNode("n1")).message(), "no heartbeat for 0");

  clock_.Step(absl::Hours(-2));
  clock_.Advance(absl::Seconds(10));
  liveness_.Check();
  const Node down = GetNode("n1");
  EXPECT_EQ(down.status(), Node::DOWN) << "ten seconds of silence, whatever the clock shows";
  EXPECT_EQ(FromProtoTime(down.last_heartbeat()), clock_.Now() - absl::Seconds(10))
      << "shown on the wall clock as it reads now";
  EXPECT_THAT(EventMessages(), Contains("node n1 is DOWN: no heartbeat for 10s"));
  EXPECT_EQ(GetTask("task0001").stopped_reason(), "Node n1 is DOWN: no heartbeat for 10s");
}

TEST_F(NodeLivenessTest, ADrainSurvivesTheNodeBeingDown) {
  auto n = PutNode("n1", "a", Node::DOWN);
  n.set_drain_requested(true);
  Put(state::NodeKey("n1"), n);
  liveness_.OnHeartbeat("n1", {});
  EXPECT_EQ(GetNode("n1").status(), Node::DRAINING);
}

TEST_F(NodeLivenessTest, TheTasksOfADownNodeAreLostWithTheReason) {
  PutNode("n1", "a");
  PutNode("n2", "b");
  PutNode("n3", "c");
  PutTask("task0001", "n1", Task::RUNNING, Task::RUNNING);
  PutTask("task0002", "n1", Task::STOPPED, Task::STOPPING);
  PutTask("task0003", "n2", Task::RUNNING, Task::RUNNING);
  liveness_.OnHeartbeat("n1", {});
  clock_.Advance(absl::Seconds(5));
  liveness_.OnHeartbeat("n2", {});
  liveness_.OnHeartbeat("n3", {});
  clock_.Advance(absl::Seconds(6));
  liveness_.Check();
  const Task lost = GetTask("task0001");
  EXPECT_EQ(lost.last_status(), Task::LOST);
  EXPECT_EQ(lost.desired_status(), Task::STOPPED);
  EXPECT_EQ(lost.stopped_reason(), "Node n1 is DOWN: no heartbeat for 11s");
  EXPECT_EQ(FromProtoTime(lost.stopped_at()), clock_.Now());
  EXPECT_EQ(GetTask("task0002").last_status(), Task::LOST);
  EXPECT_TRUE(GetTask("task0002").stopped_reason().empty()) << "it was stopping already";
  EXPECT_EQ(GetTask("task0003").last_status(), Task::RUNNING);
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("task task0001 is LOST: Node n1 is DOWN")));
}

TEST_F(NodeLivenessTest, ChecksAreRecordedWithTheTimeTheyLastChanged) {
  PutNode("n1", "a");
  const absl::Time failed = clock_.Now();
  liveness_.OnHeartbeat("n1", StorageCheck(false, "1Gi free"));
  EXPECT_THAT(EventMessages(),
              Contains("node n1: failing storage check: 1Gi free; no new tasks go there"));
  ASSERT_EQ(GetNode("n1").checks_size(), 1);
  EXPECT_EQ(FromProtoTime(GetNode("n1").checks(0).since()), failed);

  clock_.Advance(absl::Seconds(2));
  const int64_t revision = store_->Revision();
  liveness_.OnHeartbeat("n1", StorageCheck(false, "1Gi free"));
  EXPECT_EQ(store_->Revision(), revision) << "the same checks are not written again";
  liveness_.OnHeartbeat("n1", StorageCheck(false, "900Mi free"));
  EXPECT_EQ(GetNode("n1").checks(0).message(), "900Mi free");
  EXPECT_EQ(FromProtoTime(GetNode("n1").checks(0).since()), failed) << "still failing";

  clock_.Advance(absl::Seconds(2));
  liveness_.OnHeartbeat("n1", StorageCheck(true));
  EXPECT_EQ(FromProtoTime(GetNode("n1").checks(0).since()), clock_.Now());
  EXPECT_THAT(EventMessages(), Contains("node n1: storage check passes again"));
}

TEST_F(NodeLivenessTest, TheSystemCheckSaysWhatTheControlPlaneHears) {
  const Node n = PutNode("n1", "a");
  auto check = liveness_.SystemCheck(n);
  EXPECT_EQ(check.name(), "system");
  EXPECT_FALSE(check.passed());
  EXPECT_EQ(check.message(), "not heard from since the control plane started");
  EXPECT_FALSE(check.has_since());

  auto conn = std::make_shared<RecordingConnection>();
  sessions_.Attach("n1", conn, clock_.Now());
  check = liveness_.SystemCheck(n);
  EXPECT_TRUE(check.passed());
  EXPECT_EQ(check.message(), "heartbeats arrive");

  const absl::Time gone = clock_.Now();
  sessions_.Detach("n1", conn.get(), gone);
  clock_.Advance(absl::Milliseconds(7500));
  check = liveness_.SystemCheck(n);
  EXPECT_FALSE(check.passed());
  EXPECT_EQ(check.message(), "no heartbeat for 7s");
  EXPECT_EQ(FromProtoTime(check.since()), gone);
}

TEST_F(NodeLivenessTest, AStormIsPacedAndAnnouncedOnce) {
  for (const char* name : {"a1", "a2", "a3"}) PutNode(name, "a");
  PutNode("b1", "b");
  for (int i = 0; i < 12; ++i) {
    PutTask("task" + std::to_string(100 + i), i % 2 == 0 ? "a1" : "a2", Task::RUNNING,
            Task::RUNNING);
  }
  clock_.Advance(absl::Seconds(5));
  liveness_.OnHeartbeat("a3", {});
  liveness_.OnHeartbeat("b1", {});
  clock_.Advance(absl::Seconds(5));
  liveness_.Check();
  int lost = 0;
  for (const auto& t : state_->ListTasks({.include_stopped = true})) {
    lost += t.last_status() == Task::LOST ? 1 : 0;
  }
  EXPECT_EQ(lost, 10);
  liveness_.Check();
  int announced = 0;
  for (const auto& m : EventMessages()) {
    announced += m.find("are DOWN at once") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(announced, 1);
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("2 of 3 nodes of zone a are DOWN at once")));
}

}  // namespace
}  // namespace gantry::testing
