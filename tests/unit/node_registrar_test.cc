// NodeRegistrar: the node record a registration writes, what survives it,
// and the events it is worth.

#include "controlplane/nodes/node_registrar.h"

#include <gmock/gmock.h>

#include "common/time_util.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Node;
using ::testing::Contains;
using ::testing::HasSubstr;

class NodeRegistrarTest : public NodesFixture {
 protected:
  static gantry::v1::RegisterRequest Request(const std::string& name) {
    gantry::v1::RegisterRequest r;
    r.set_node_name(name);
    r.set_zone("a");
    (*r.mutable_attributes())["disk"] = "ssd";
    r.set_address("10.0.0.1");
    r.set_metrics_address("10.0.0.1:9100");
    r.mutable_capacity()->set_cpu(4000);
    r.mutable_capacity()->set_memory(int64_t{8} << 30);
    r.set_port_range_start(20000);
    r.set_port_range_end(20100);
    r.set_agent_version("0.1.0");
    return r;
  }

  nodes::NodeRegistrar registrar_{state_.get(), events_.get()};
};

TEST_F(NodeRegistrarTest, AnIncompleteRegistrationIsRefusedAndWritesNothing) {
  std::vector<gantry::v1::RegisterRequest> bad(5, Request("n1"));
  bad[0].clear_node_name();
  bad[1].clear_zone();
  bad[2].mutable_capacity()->set_cpu(0);
  bad[3].set_port_range_start(0);
  bad[4].set_port_range_end(70000);
  for (const auto& r : bad) {
    auto written = registrar_.Write(r, clock_.Now());
    EXPECT_EQ(written.status().code(), absl::StatusCode::kInvalidArgument) << r.DebugString();
  }
  EXPECT_FALSE(state_->GetNode("n1").has_value());
}

TEST_F(NodeRegistrarTest, ANewNodeIsActiveAndAnnounced) {
  const auto r = Request("n1");
  auto written = registrar_.Write(r, clock_.Now());
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->previous, Node::STATUS_UNSPECIFIED);
  EXPECT_EQ(written->status, Node::ACTIVE);
  const Node n = GetNode("n1");
  EXPECT_EQ(n.status(), Node::ACTIVE);
  EXPECT_EQ(n.zone(), "a");
  EXPECT_EQ(n.attributes().at("disk"), "ssd");
  EXPECT_EQ(n.metrics_address(), "10.0.0.1:9100");
  EXPECT_EQ(n.agent_version(), "0.1.0");
  EXPECT_EQ(FromProtoTime(n.registered_at()), clock_.Now());
  EXPECT_EQ(FromProtoTime(n.last_heartbeat()), clock_.Now());
  registrar_.Announce(r, *written);
  EXPECT_THAT(EventMessages(), Contains(HasSubstr("node n1 registered in zone a with")));
}

TEST_F(NodeRegistrarTest, ADrainedNodeComesBackDrainingAndSaysSo) {
  auto down = PutNode("n1", "a", Node::DOWN);
  down.set_drain_requested(true);
  down.set_connected(true);
  Put(state::NodeKey("n1"), down);
  const auto r = Request("n1");
  auto written = registrar_.Write(r, clock_.Now());
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->previous, Node::DOWN);
  EXPECT_EQ(written->status, Node::DRAINING);
  const Node n = GetNode("n1");
  EXPECT_EQ(n.status(), Node::DRAINING);
  EXPECT_TRUE(n.drain_requested()) << "the operator's drain stays";
  EXPECT_FALSE(n.connected()) << "derived, never stored";
  registrar_.Announce(r, *written);
  EXPECT_THAT(EventMessages(), Contains("node n1 is back and DRAINING (it was drained)"));
}

TEST_F(NodeRegistrarTest, AReconnectOfALiveNodeIsNoEvent) {
  PutNode("n1", "a", Node::DRAINING);
  const auto r = Request("n1");
  auto written = registrar_.Write(r, clock_.Now());
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written->status, Node::DRAINING);
  registrar_.Announce(r, *written);
  EXPECT_TRUE(EventMessages().empty());
}

}  // namespace
}  // namespace gantry::testing
