// AgentSessions: which connection speaks for a node, last-heard times, and
// desired sets pushed to dirty nodes.

#include "controlplane/nodes/agent_sessions.h"

#include <gmock/gmock.h>

#include "tests/fakes/recording_connection.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;

class AgentSessionsTest : public NodesFixture {
 protected:
  nodes::AgentSessions sessions_{state_.get()};
};

TEST_F(AgentSessionsTest, ANewerConnectionReplacesAndClosesTheOlder) {
  auto first = std::make_shared<RecordingConnection>();
  auto second = std::make_shared<RecordingConnection>();
  sessions_.Attach("n1", first, clock_.Now());
  sessions_.Attach("n1", second, clock_.Now());
  EXPECT_TRUE(first->closed_);
  EXPECT_FALSE(second->closed_);
  EXPECT_EQ(sessions_.Connection("n1"), second);
  EXPECT_FALSE(sessions_.Detach("n1", first.get(), clock_.Now()))
      << "the older stream ending must not unregister the newer";
  EXPECT_TRUE(sessions_.IsConnected("n1"));
  EXPECT_TRUE(sessions_.Detach("n1", second.get(), clock_.Now()));
  EXPECT_FALSE(sessions_.IsConnected("n1"));
  EXPECT_EQ(sessions_.Connection("n1"), nullptr);
}

TEST_F(AgentSessionsTest, AttachingTheSameConnectionAgainKeepsItOpen) {
  auto conn = std::make_shared<RecordingConnection>();
  sessions_.Attach("n1", conn, clock_.Now());
  sessions_.Attach("n1", conn, clock_.Now());
  EXPECT_FALSE(conn->closed_);
  EXPECT_TRUE(sessions_.IsConnected("n1"));
}

TEST_F(AgentSessionsTest, LastHeardSurvivesADisconnect) {
  EXPECT_EQ(sessions_.LastHeard("n1"), absl::UnixEpoch()) << "never heard from";
  auto conn = std::make_shared<RecordingConnection>();
  sessions_.Attach("n1", conn, clock_.Now());
  EXPECT_EQ(sessions_.LastHeard("n1"), clock_.Now());
  clock_.Advance(absl::Seconds(3));
  sessions_.Heard("n1", clock_.Now());
  EXPECT_EQ(sessions_.LastHeard("n1"), clock_.Now());
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(sessions_.Detach("n1", conn.get(), clock_.Now()));
  EXPECT_EQ(sessions_.LastHeard("n1"), clock_.Now()) << "the stream's end is the last sign";
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(sessions_.LastHeard("n1"), clock_.Now() - absl::Seconds(5));
}

TEST_F(AgentSessionsTest, EachDirtyConnectedNodeGetsItsCompleteSetOnce) {
  PutWebTaskDefinition();
  auto running = PutTask("t-run", "n1");
  running.mutable_containers(0)->set_image_digest("sha256:abc");
  Put(state::TaskKey("t-run"), running);
  PutTask("t-stop", "n1", Task::STOPPED, Task::STOPPING);
  PutTask("t-other", "n2");
  auto n1 = std::make_shared<RecordingConnection>();
  auto n2 = std::make_shared<RecordingConnection>();
  sessions_.Attach("n1", n1, clock_.Now());
  sessions_.Attach("n2", n2, clock_.Now());

  sessions_.MarkDirty({"n1"});
  sessions_.PushDirty();
  EXPECT_FALSE(n2->LastDesired().has_value()) << "n2 is not dirty";
  auto desired = n1->LastDesired();
  ASSERT_TRUE(desired.has_value());
  EXPECT_EQ(desired->sequence(), store_->Revision());
  ASSERT_EQ(desired->tasks_size(), 1) << "only tasks that should run";
  EXPECT_EQ(desired->tasks(0).task_id(), "t-run");
  EXPECT_EQ(desired->tasks(0).task_definition(), "web:1");
  ASSERT_EQ(desired->tasks(0).containers_size(), 1);
  EXPECT_EQ(desired->tasks(0).containers(0).image(), "example.org/demo/busybox:1");
  EXPECT_EQ(desired->tasks(0).image_digests().at("httpd"), "sha256:abc");

  const size_t sent = n1->sent().size();
  sessions_.PushDirty();
  EXPECT_EQ(n1->sent().size(), sent) << "nothing is dirty any more";
}

TEST_F(AgentSessionsTest, ADirtyNodeThatIsNotConnectedIsSkipped) {
  PutWebTaskDefinition();
  PutTask("t1", "n1");
  sessions_.MarkDirty({"n1"});
  sessions_.PushDirty();
  auto conn = std::make_shared<RecordingConnection>();
  sessions_.Attach("n1", conn, clock_.Now());
  sessions_.PushDirty();
  EXPECT_FALSE(conn->LastDesired().has_value()) << "registration marks the node dirty again";
  sessions_.MarkDirty({"n1"});
  sessions_.PushDirty();
  EXPECT_TRUE(conn->LastDesired().has_value());
}

TEST_F(AgentSessionsTest, ATaskWithAMissingDefinitionIsLeftOut) {
  PutTask("t1", "n1");
  const auto desired = nodes::BuildDesiredTasks(*state_, "n1");
  EXPECT_EQ(desired.tasks_size(), 0);
  EXPECT_EQ(desired.sequence(), store_->Revision());
}

}  // namespace
}  // namespace gantry::testing
