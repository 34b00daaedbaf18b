// The node's nftables ruleset (pure) and when NodeNetwork rewrites it:
// after the first desired set, on every attach and detach, removed when
// the last task goes, and left alone by a restarted agent until its
// first desired set.

#include "agent/network/firewall_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/network/node_network.h"
#include "tests/fakes/scripted_cni.h"
#include "tests/support/test_dir.h"

namespace gantry::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

FirewallConfig TwoServices() {
  FirewallConfig c;
  c.subnet = "10.200.3.0/24";
  c.task_cidr = "10.200.0.0/16";
  c.tasks = {{"10.200.3.2", "db", {}}, {"10.200.3.3", "web", {8080}}};
  auto* db = &c.ingress.emplace_back();
  db->set_service("db");
  auto* own = db->add_rules();
  own->set_from_service("db");
  own->set_protocol("all");
  auto* api = db->add_rules();
  api->set_from_service("api");
  api->set_protocol("tcp");
  api->add_ports(5432);
  auto* prom = db->add_rules();
  prom->set_cidr("10.79.0.0/24");
  prom->set_protocol("tcp");
  prom->add_ports(9187);
  auto* web = &c.ingress.emplace_back();
  web->set_service("web");
  auto* web_own = web->add_rules();
  web_own->set_from_service("web");
  web_own->set_protocol("all");
  for (const auto& [service, addresses] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"db", {"10.200.3.2"}}, {"api", {"10.200.4.7", "10.200.5.9"}}, {"web", {}}}) {
    auto& set = c.addresses.emplace_back();
    set.set_service(service);
    for (const auto& a : addresses) set.add_addresses(a);
  }
  auto& acl = c.network_acls.emplace_back();
  acl.set_name("base");
  auto* deny = acl.add_egress();
  deny->set_number(200);
  deny->set_action("deny");
  deny->set_cidr("169.254.0.0/16");
  auto* allow = acl.add_egress();
  allow->set_number(100);
  allow->set_action("allow");
  allow->set_cidr("169.254.169.0/24");
  allow->set_protocol("tcp");
  allow->add_ports(80);
  return c;
}

TEST(FirewallRules, OneTableWithEveryRuleInItsPlace) {
  auto script = RulesetFor(TwoServices());
  ASSERT_TRUE(script.ok()) << script.status();
  EXPECT_THAT(*script, HasSubstr("add table ip gantry\ndelete table ip gantry\ntable ip gantry {"));
  EXPECT_THAT(*script, HasSubstr("ip saddr 10.200.3.0/24 ip daddr != 10.200.0.0/16 masquerade"));
  // Tasks reach nothing on the node but its replies.
  EXPECT_THAT(*script, HasSubstr("iifname \"gantry0\" ct state established,related accept\n"
                                 "    ip saddr 10.200.3.0/24 ct state established,related accept\n"
                                 "    iifname \"gantry0\" drop\n"
                                 "    ip saddr 10.200.3.0/24 drop"));
  EXPECT_THAT(*script, HasSubstr("oifname \"gantry0\" jump to_tasks"));
  // Address sets by index, never by the names the control plane sent.
  EXPECT_THAT(*script, HasSubstr("set from_1 { type ipv4_addr; elements = { 10.200.4.7, "
                                 "10.200.5.9 } }"));
  EXPECT_THAT(*script, HasSubstr("set from_2 { type ipv4_addr; }"));
  EXPECT_THAT(*script, HasSubstr("ip saddr @from_1 tcp dport { 5432 } accept"));
  EXPECT_THAT(*script, HasSubstr("ip saddr 10.79.0.0/24 tcp dport { 9187 } accept"));
  // ACL rules lowest number first; allow returns to the service rules.
  EXPECT_THAT(*script, HasSubstr("ip daddr 169.254.169.0/24 tcp dport { 80 } return\n"
                                 "    ip daddr 169.254.0.0/16 drop"));
  // ACLs before the stateful accept; then each task's chain.
  EXPECT_THAT(*script, HasSubstr("jump acl_0_in\n    ct state established,related accept\n"
                                 "    ct state invalid drop\n"
                                 "    ip daddr vmap { 10.200.3.2 : goto task_0, "
                                 "10.200.3.3 : goto task_1 }\n    drop"));
  EXPECT_THAT(*script, HasSubstr("chain task_1 {\n    ct status dnat tcp dport { 8080 } accept\n"
                                 "    goto service_1"));
}

TEST(FirewallRules, NothingUnparsedReachesTheScript) {
  FirewallConfig c = TwoServices();
  c.addresses[1].add_addresses("10.0.0.1 } ; flush ruleset ; {");
  c.ingress[0].mutable_rules(2)->set_cidr("0.0.0.0/0; flush ruleset");
  c.ingress[0].mutable_rules(1)->set_protocol("icmp");
  c.tasks.push_back({"10.200.9.9", "db", {}});  // outside the node's subnet
  c.tasks.push_back({"bogus", "db", {}});
  auto script = RulesetFor(c);
  ASSERT_TRUE(script.ok());
  EXPECT_THAT(*script, Not(HasSubstr("flush")));
  EXPECT_THAT(*script, Not(HasSubstr("10.200.9.9")));
  EXPECT_THAT(*script, Not(HasSubstr("@from_1")));  // the rule with a bad protocol went
  c.task_cidr = "bogus";
  EXPECT_EQ(RulesetFor(c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FirewallRules, WhatCannotBeReadFailsClosed) {
  FirewallConfig c = TwoServices();
  // A deny this agent cannot read in full denies more; an allow, nothing.
  c.network_acls[0].mutable_egress(1)->set_protocol("sctp");  // number 100, an allow
  auto* deny = c.network_acls[0].add_ingress();
  deny->set_number(5);
  deny->set_action("deny");
  deny->set_cidr("10.9.0.0/16");
  deny->set_protocol("sctp");
  auto* bad = c.network_acls[0].add_ingress();
  bad->set_number(6);
  bad->set_action("deny");
  bad->set_cidr("not a cidr");
  // Two tasks with one address: that address is dropped, the script stays valid.
  c.tasks.push_back({"10.200.3.2", "web", {}});
  auto script = RulesetFor(c);
  ASSERT_TRUE(script.ok());
  EXPECT_THAT(*script, Not(HasSubstr("169.254.169.0/24")));
  EXPECT_THAT(*script, HasSubstr("chain acl_0_in {\n    ip saddr 10.9.0.0/16 drop\n    drop\n  }"));
  EXPECT_THAT(*script, HasSubstr("ip daddr vmap { 10.200.3.2 : drop, 10.200.3.3 : goto task_1 }"));
  c.bridge = "gantry0\" accept";
  EXPECT_EQ(RulesetFor(c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FirewallRules, ATaskOfNoKnownServiceGetsOnlyItsPublishedPorts) {
  FirewallConfig c = TwoServices();
  c.tasks = {{"10.200.3.9", "gone", {80}}};
  auto script = RulesetFor(c);
  ASSERT_TRUE(script.ok());
  EXPECT_THAT(
      *script,
      HasSubstr("chain task_0 {\n    ct status dnat tcp dport { 80 } accept\n    drop\n  }"));
}

class RecordingFirewall : public NodeFirewall {
 public:
  RecordingFirewall() : NodeFirewall("") {}
  absl::Status Apply(const FirewallConfig& config, const std::string& ruleset) override {
    EXPECT_EQ(ruleset, *RulesetFor(config)) << "the ruleset is the config's";
    applied.push_back(config);
    return absl::OkStatus();
  }
  absl::Status Remove() override {
    ++removed;
    return absl::OkStatus();
  }
  std::vector<FirewallConfig> applied;
  int removed = 0;
};

class NodeNetworkFirewallTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<NodeNetwork> Network(RecordingFirewall** firewall) {
    NodeNetwork::Options o;
    o.data_dir = dir_.string();
    o.manage_namespaces = false;
    auto fw = std::make_unique<RecordingFirewall>();
    *firewall = fw.get();
    auto network = std::make_unique<NodeNetwork>(
        o, std::make_unique<gantry::testing::ScriptedCni>(), nullptr, std::move(fw));
    gantry::v1::Registered r;
    r.set_task_subnet("10.200.3.0/24");
    r.set_task_cidr("10.200.0.0/16");
    network->OnRegistered(r);
    return network;
  }
  static gantry::v1::DesiredTasks Desired(const std::vector<std::string>& ids) {
    gantry::v1::DesiredTasks d;
    for (const auto& id : ids) {
      auto* a = d.add_tasks();
      a->set_task_id(id);
      a->set_service("db");
      a->set_network_mode("task");
      auto* p = a->add_ports();
      p->set_host_port(20001);
      p->set_container_port(5432);
    }
    d.add_ingress()->set_service("db");
    return d;
  }
  std::filesystem::path dir_ = gantry::testing::FreshTestDir("firewall");
};

TEST_F(NodeNetworkFirewallTest, FollowsAttachAndDetachAndGoesWithTheLastTask) {
  RecordingFirewall* fw = nullptr;
  auto network = Network(&fw);
  EXPECT_TRUE(fw->applied.empty()) << "nothing before a desired set";
  EXPECT_EQ(network->tasks()->Attach("t0", {}).status().code(), absl::StatusCode::kUnavailable)
      << "no task starts before its rules can be written";
  ASSERT_TRUE(network->tasks()->Detach("t0").ok());
  network->OnDesired(Desired({"t1"}));
  EXPECT_TRUE(fw->applied.empty());
  EXPECT_EQ(fw->removed, 1) << "no task attached: no table";
  auto a = network->tasks()->Attach("t1", {{20001, 5432}});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(fw->applied.size(), 1u) << "in place before the containers start";
  ASSERT_EQ(fw->applied[0].tasks.size(), 1u);
  EXPECT_EQ(fw->applied[0].tasks[0].address, a->address);
  EXPECT_EQ(fw->applied[0].tasks[0].service, "db");
  EXPECT_EQ(fw->applied[0].tasks[0].published, std::vector<uint32_t>{5432});
  network->OnDesired(Desired({"t1"}));
  EXPECT_EQ(fw->applied.size(), 1u) << "the same rules are not written again";
  // Stopping: no longer desired, still attached, still answering.
  network->OnDesired(Desired({}));
  ASSERT_EQ(fw->applied.size(), 1u);
  ASSERT_TRUE(network->tasks()->Detach("t1").ok());
  EXPECT_EQ(fw->removed, 2);
}

TEST_F(NodeNetworkFirewallTest, ARestartedAgentKeepsTheTableUntilItsFirstDesiredSet) {
  RecordingFirewall* fw = nullptr;
  {
    auto network = Network(&fw);
    network->OnDesired(Desired({"t1"}));
    ASSERT_TRUE(network->tasks()->Attach("t1", {{20001, 5432}}).ok());
  }
  auto restarted = Network(&fw);
  EXPECT_TRUE(fw->applied.empty());
  EXPECT_EQ(fw->removed, 0);
  restarted->OnDesired(Desired({"t1"}));
  ASSERT_EQ(fw->applied.size(), 1u);
  ASSERT_EQ(fw->applied[0].tasks.size(), 1u) << "the recorded attachment is found";
  EXPECT_EQ(fw->applied[0].tasks[0].service, "db");
}

}  // namespace
}  // namespace gantry::agent
