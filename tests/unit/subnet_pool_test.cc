// Task subnets: the CIDR arithmetic, the pure choice, and the registrar
// that makes a choice stick across restarts and concurrent registrations.

#include "controlplane/nodes/subnet_pool.h"

#include <gmock/gmock.h>

#include "controlplane/nodes/node_registrar.h"
#include "controlplane/state/keys.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using nodes::TaskNetworkConfig;
using ::testing::HasSubstr;

TEST(Cidr, ParsesAndExplainsBadBlocks) {
  auto c = ParseIpv4Cidr("10.200.0.0/16");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ToString(), "10.200.0.0/16");
  EXPECT_EQ(c->size(), 65536u);
  EXPECT_TRUE(c->Contains(*ParseIpv4("10.200.255.1")));
  EXPECT_FALSE(c->Contains(*ParseIpv4("10.201.0.1")));
  EXPECT_EQ(c->Block(24, 3).ToString(), "10.200.3.0/24");
  EXPECT_TRUE(c->Overlaps(*ParseIpv4Cidr("10.0.0.0/8")));
  EXPECT_FALSE(c->Overlaps(*ParseIpv4Cidr("10.201.0.0/16")));
  EXPECT_THAT(ParseIpv4Cidr("10.200.1.0/16").status().message(),
              HasSubstr("has host bits set; did you mean 10.200.0.0/16?"));
  EXPECT_THAT(ParseIpv4Cidr("10.200.0.0").status().message(), HasSubstr("not a CIDR block"));
  EXPECT_THAT(ParseIpv4Cidr("10.300.0.0/16").status().message(), HasSubstr("not an IPv4"));
  EXPECT_THAT(ParseIpv4Cidr("10.0.0.0/33").status().message(), HasSubstr("0..32"));
  EXPECT_FALSE(ParseIpv4("1.2.3.04").has_value());
}

TEST(SubnetPool, LowestFreeAndKeptWhenStillValid) {
  TaskNetworkConfig config;
  auto s = nodes::ChooseSubnet(config, "n1", "", {});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ToString(), "10.200.0.0/24");
  s = nodes::ChooseSubnet(config, "n2", "", {"10.200.0.0/24", "10.200.2.0/24"});
  EXPECT_EQ(s->ToString(), "10.200.1.0/24");
  s = nodes::ChooseSubnet(config, "n1", "10.200.9.0/24", {"10.200.0.0/24"});
  EXPECT_EQ(s->ToString(), "10.200.9.0/24");  // kept
  s = nodes::ChooseSubnet(config, "n1", "10.99.9.0/24", {});
  EXPECT_EQ(s->ToString(), "10.200.0.0/24");  // outside the pool: replaced
}

TEST(SubnetPool, SubnetsOfAnotherSizeAreComparedAsRanges) {
  // After --task-subnet-size 25, other nodes may still hold /24s.
  TaskNetworkConfig config{*ParseIpv4Cidr("10.200.0.0/16"), 25};
  auto s = nodes::ChooseSubnet(config, "n1", "", {"10.200.0.0/24"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ToString(), "10.200.1.0/25");
  s = nodes::ChooseSubnet(config, "n1", "10.200.0.128/25", {"10.200.0.0/24"});
  EXPECT_EQ(s->ToString(), "10.200.1.0/25");  // its own overlaps another's: moved
}

TEST(SubnetPool, ExhaustionAndBadConfigsSayWhatToDo) {
  TaskNetworkConfig small{*ParseIpv4Cidr("10.1.0.0/23"), 24};
  auto s = nodes::ChooseSubnet(small, "n3", "", {"10.1.0.0/24", "10.1.1.0/24"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.status().message(), HasSubstr("node n3 gets no task subnet: all 2 /24 subnets"));
  EXPECT_THAT(s.status().message(), HasSubstr("larger --task-cidr"));
  EXPECT_FALSE(nodes::ValidateTaskNetwork({*ParseIpv4Cidr("10.1.0.0/24"), 24}).ok());
  EXPECT_FALSE(nodes::ValidateTaskNetwork({*ParseIpv4Cidr("10.0.0.0/8"), 30}).ok());
  EXPECT_TRUE(nodes::ValidateTaskNetwork(TaskNetworkConfig{}).ok());
  EXPECT_THAT(nodes::CheckNodeAddress({}, "10.200.7.7").message(),
              HasSubstr("address: 10.200.7.7 lies inside the task CIDR 10.200.0.0/16"));
  EXPECT_TRUE(nodes::CheckNodeAddress({}, "192.168.1.5").ok());
}

class RegistrarSubnetsTest : public NodesFixture {
 protected:
  static gantry::v1::RegisterRequest Request(const std::string& name, const std::string& address) {
    gantry::v1::RegisterRequest r;
    r.set_node_name(name);
    r.set_zone("a");
    r.set_address(address);
    r.mutable_capacity()->set_cpu(1000);
    r.mutable_capacity()->set_memory(int64_t{1} << 30);
    r.set_port_range_start(20000);
    r.set_port_range_end(20100);
    return r;
  }
  nodes::NodeRegistrar registrar_{state_.get(), events_.get(),
                                  TaskNetworkConfig{*ParseIpv4Cidr("10.5.0.0/23"), 24}};
};

TEST_F(RegistrarSubnetsTest, EachNodeGetsItsOwnAndKeepsIt) {
  auto w1 = registrar_.Write(Request("n1", "192.168.0.1"), clock_.Now());
  auto w2 = registrar_.Write(Request("n2", "192.168.0.2"), clock_.Now());
  ASSERT_TRUE(w1.ok() && w2.ok());
  EXPECT_EQ(w1->task_subnet, "10.5.0.0/24");
  EXPECT_EQ(w2->task_subnet, "10.5.1.0/24");
  EXPECT_TRUE(w1->RoutesChanged("192.168.0.1"));
  EXPECT_EQ(GetNode("n2").task_subnet(), "10.5.1.0/24");
  // Reserved in the store, so a concurrent registration cannot take it.
  auto reserved = state_->store()->Get(state::SubnetKey("10.5.1.0/24"));
  ASSERT_TRUE(reserved.ok());
  ASSERT_TRUE(reserved->has_value());
  EXPECT_EQ((*reserved)->value, "n2");
  // A reconnect keeps it and changes nobody's routes.
  auto again = registrar_.Write(Request("n1", "192.168.0.1"), clock_.Now());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->task_subnet, "10.5.0.0/24");
  EXPECT_FALSE(again->RoutesChanged("192.168.0.1"));
  // The pool is full now.
  auto third = registrar_.Write(Request("n3", "192.168.0.3"), clock_.Now());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(state_->GetNode("n3").has_value());
}

TEST_F(RegistrarSubnetsTest, ANodeAddressInsideTheTaskCidrIsRefused) {
  auto w = registrar_.Write(Request("n1", "10.5.1.9"), clock_.Now());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("lies inside the task CIDR 10.5.0.0/23"));
  EXPECT_FALSE(state_->GetNode("n1").has_value());
}

TEST_F(RegistrarSubnetsTest, AStaleReservationIsSkipped) {
  // Held by no node the cache knows (a registration racing this one).
  store::TxnRequest txn;
  txn.ops.push_back(store::Op::Put(state::SubnetKey("10.5.0.0/24"), "elsewhere"));
  ASSERT_TRUE(state_->Commit(txn).ok());
  auto w = registrar_.Write(Request("n1", "192.168.0.1"), clock_.Now());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->task_subnet, "10.5.1.0/24");
}

}  // namespace
}  // namespace gantry::testing
