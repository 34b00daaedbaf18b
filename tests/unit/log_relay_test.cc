// LogRelay: log requests to the task's node, answers to the caller's sink,
// cancellation, and streams ended when their agent goes away.

#include "controlplane/nodes/log_relay.h"

#include <gmock/gmock.h>

#include "tests/fakes/recording_connection.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using ::testing::HasSubstr;

// What one sink received.
struct Received {
  std::vector<std::string> data;
  bool eof = false;
  std::string error;
  nodes::LogRelay::Sink Sink() {
    return [this](const gantry::v1::LogData& d) {
      data.push_back(d.data());
      eof |= d.eof();
      if (!d.error().empty()) error = d.error();
    };
  }
};

class LogRelayTest : public NodesFixture {
 protected:
  static gantry::v1::Task TaskOn(const std::string& node) {
    gantry::v1::Task t;
    t.set_id("task0001-abcd");
    t.set_node(node);
    return t;
  }
  static gantry::v1::LogData Data(int64_t id, const std::string& text, bool eof = false) {
    gantry::v1::LogData d;
    d.set_request_id(id);
    d.set_data(text);
    d.set_eof(eof);
    return d;
  }
  std::shared_ptr<RecordingConnection> Connect(const std::string& node) {
    auto conn = std::make_shared<RecordingConnection>();
    sessions_.Attach(node, conn, clock_.Now());
    return conn;
  }

  nodes::AgentSessions sessions_{state_.get()};
  nodes::LogRelay relay_{&sessions_};
};

TEST_F(LogRelayTest, TheRequestGoesToTheTasksNodeAndAnswersToTheSink) {
  auto n1 = Connect("n1");
  auto n2 = Connect("n2");
  gantry::v1::GetLogsRequest req;
  req.set_container("httpd");
  req.set_tail_lines(5);
  req.set_follow(true);
  Received got;
  auto id = relay_.Open(TaskOn("n1"), req, got.Sink());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(n2->sent().empty());
  const auto sent = n1->sent();
  ASSERT_EQ(sent.size(), 1u);
  const auto& lr = sent[0].log_request();
  EXPECT_EQ(lr.request_id(), *id);
  EXPECT_EQ(lr.task_id(), "task0001-abcd");
  EXPECT_EQ(lr.container(), "httpd");
  EXPECT_EQ(lr.tail_lines(), 5);
  EXPECT_TRUE(lr.follow());

  relay_.OnData("n2", Data(*id, "not yours\n"));
  relay_.OnData("n1", Data(*id, "hello\n"));
  relay_.OnData("n1", Data(*id, "", /*eof=*/true));
  relay_.OnData("n1", Data(*id, "after the end\n"));
  EXPECT_EQ(got.data, (std::vector<std::string>{"hello\n", ""}));
  EXPECT_TRUE(got.eof);
}

TEST_F(LogRelayTest, EachStreamHasItsOwnId) {
  Connect("n1");
  Received a;
  Received b;
  auto first = relay_.Open(TaskOn("n1"), {}, a.Sink());
  auto second = relay_.Open(TaskOn("n1"), {}, b.Sink());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(*first, *second);
  relay_.OnData("n1", Data(*second, "b\n"));
  EXPECT_TRUE(a.data.empty());
  EXPECT_EQ(b.data, std::vector<std::string>{"b\n"});
}

TEST_F(LogRelayTest, CloseCancelsOnTheAgent) {
  auto n1 = Connect("n1");
  Received got;
  auto id = relay_.Open(TaskOn("n1"), {}, got.Sink());
  ASSERT_TRUE(id.ok());
  relay_.Close(*id);
  ASSERT_EQ(n1->sent().size(), 2u);
  EXPECT_EQ(n1->sent()[1].log_cancel().request_id(), *id);
  relay_.OnData("n1", Data(*id, "late\n"));
  EXPECT_TRUE(got.data.empty());
  relay_.Close(*id);
  EXPECT_EQ(n1->sent().size(), 2u) << "closing twice sends nothing";
}

TEST_F(LogRelayTest, ANodeThatIsNotConnectedIsRefused) {
  Received got;
  auto id = relay_.Open(TaskOn("n1"), {}, got.Sink());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(id.status().message()),
              HasSubstr("the agent on node n1 that ran task task0001 is not connected"));
}

TEST_F(LogRelayTest, AStreamEndsWithAnErrorWhenItsAgentGoesAway) {
  auto n1 = Connect("n1");
  Connect("n2");
  Received on1;
  Received on2;
  ASSERT_TRUE(relay_.Open(TaskOn("n1"), {}, on1.Sink()).ok());
  auto id2 = relay_.Open(TaskOn("n2"), {}, on2.Sink());
  ASSERT_TRUE(id2.ok());
  ASSERT_TRUE(sessions_.Detach("n1", n1.get(), clock_.Now()));
  relay_.EndOrphaned("n1");
  EXPECT_TRUE(on1.eof);
  EXPECT_EQ(on1.error, "the agent on n1 disconnected");
  EXPECT_FALSE(on2.eof) << "another node's stream goes on";
  relay_.OnData("n2", Data(*id2, "still here\n"));
  EXPECT_EQ(on2.data, std::vector<std::string>{"still here\n"});
}

TEST_F(LogRelayTest, AStreamOpenedAfterAReconnectOutlivesTheOldConnection) {
  auto old_conn = Connect("n1");
  Received before;
  ASSERT_TRUE(relay_.Open(TaskOn("n1"), {}, before.Sink()).ok());
  ASSERT_TRUE(sessions_.Detach("n1", old_conn.get(), clock_.Now()));
  // The agent is back before the old stream's end is handled.
  auto new_conn = Connect("n1");
  Received after;
  auto id = relay_.Open(TaskOn("n1"), {}, after.Sink());
  ASSERT_TRUE(id.ok());
  relay_.EndOrphaned("n1");
  EXPECT_TRUE(before.eof);
  EXPECT_FALSE(after.eof);
  relay_.OnData("n1", Data(*id, "new\n"));
  EXPECT_EQ(after.data, std::vector<std::string>{"new\n"});
}

}  // namespace
}  // namespace gantry::testing
