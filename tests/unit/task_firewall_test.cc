// The firewall part of desired sets: effective rules for the services on
// a node, their named services' addresses cluster-wide, the network ACLs,
// and which nodes are owed a new set when addresses or rules change.

#include "controlplane/nodes/task_firewall.h"

#include <gmock/gmock.h>

#include <mutex>
#include <utility>

#include "controlplane/nodes/agent_sessions.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class TaskFirewallTest : public NodesFixture {
 protected:
  void SetUp() override {
    // Everything committed since the last Touched(), as the listeners hear it.
    state_->AddListener([this](const state::Change& c) {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.services.insert(c.services.begin(), c.services.end());
      pending_.service_records.insert(c.service_records.begin(), c.service_records.end());
      pending_.addresses.insert(c.addresses.begin(), c.addresses.end());
      pending_.network_acls |= c.network_acls;
    });
    gantry::v1::TaskDefinition td;
    td.set_family("web");
    td.set_revision(1);
    td.set_network_mode("task");
    td.add_containers()->set_name("httpd");
    Put(state::TaskDefKey("web", 1), td);
    PutNode("n1", "a");
    PutNode("n2", "a");
    PutNode("n3", "a");
  }
  void PutService(const std::string& name, const std::string& from = "") {
    gantry::v1::Service s;
    s.set_name(name);
    s.set_task_definition("web:1");
    if (!from.empty()) {
      auto* r = s.add_ingress();
      r->set_from_service(from);
      r->add_ports(5432);
    }
    Put(state::ServiceKey(name), s);
  }
  Task PutServiceTask(const std::string& id, const std::string& service, const std::string& node,
                      const std::string& address, Task::Status last = Task::RUNNING) {
    Task t;  // in one commit, as the controller and the reports write them
    t.set_id(id);
    t.set_service(service);
    t.set_task_definition("web:1");
    t.set_node(node);
    t.set_zone("a");
    t.set_desired_status(Task::RUNNING);
    t.set_last_status(last);
    t.add_containers()->set_name("httpd");
    t.set_address(address);
    Put(state::TaskKey(id), t);
    return t;
  }
  // What the tracker says about everything committed since the last call.
  std::set<std::string> Touched() {
    state::Change change;
    {
      std::lock_guard<std::mutex> lock(mu_);
      change = std::exchange(pending_, {});
    }
    return tracker_.NodesToUpdate(*state_, change);
  }
  nodes::IngressTracker tracker_;
  std::mutex mu_;
  state::Change pending_;
};

TEST_F(TaskFirewallTest, DesiredSetsCarryRulesAddressesAndAcls) {
  PutService("db", "api");
  PutService("api");
  PutServiceTask("db-1", "db", "n1", "10.200.1.2");
  PutServiceTask("api-1", "api", "n2", "10.200.2.2");
  PutServiceTask("api-2", "api", "n3", "10.200.3.2");
  PutServiceTask("api-old", "api", "n3", "10.200.3.9", Task::STOPPED);
  gantry::v1::NetworkAcl acl;
  acl.set_name("base");
  auto* r = acl.add_egress();
  r->set_number(100);
  r->set_action("deny");
  r->set_cidr("169.254.0.0/16");
  Put(state::NetworkAclKey("base"), acl);

  const auto d = nodes::BuildDesiredTasks(*state_, "n1");
  ASSERT_EQ(d.ingress_size(), 1);
  EXPECT_EQ(d.ingress(0).service(), "db");
  ASSERT_EQ(d.ingress(0).rules_size(), 2);
  EXPECT_EQ(d.ingress(0).rules(0).from_service(), "db") << "its own tasks first";
  EXPECT_EQ(d.ingress(0).rules(0).protocol(), "all");
  EXPECT_EQ(d.ingress(0).rules(1).protocol(), "tcp") << "spelled out for the agent";
  ASSERT_EQ(d.addresses_size(), 2);
  EXPECT_EQ(d.addresses(0).service(), "api");
  EXPECT_THAT(d.addresses(0).addresses(), ElementsAre("10.200.2.2", "10.200.3.2"))
      << "cluster-wide, stopped tasks left out";
  EXPECT_THAT(d.addresses(1).addresses(), ElementsAre("10.200.1.2"));
  ASSERT_EQ(d.network_acls_size(), 1);
  EXPECT_EQ(d.network_acls(0).name(), "base");
}

TEST_F(TaskFirewallTest, HostNetworkedTasksGetNoRules) {
  gantry::v1::TaskDefinition td;
  td.set_family("web");
  td.set_revision(1);
  td.set_network_mode("host");
  td.add_containers()->set_name("httpd");
  Put(state::TaskDefKey("web", 1), td);
  PutService("db", "api");
  PutServiceTask("db-1", "db", "n1", "");
  const auto d = nodes::BuildDesiredTasks(*state_, "n1");
  EXPECT_EQ(d.ingress_size(), 0);
  EXPECT_EQ(d.addresses_size(), 0);
}

TEST_F(TaskFirewallTest, NewAddressesReachTheNodesWhoseRulesNameThem) {
  PutService("db", "api");
  PutService("api");
  PutService("web");
  PutServiceTask("db-1", "db", "n1", "10.200.1.2");
  PutServiceTask("web-1", "web", "n3", "10.200.3.2");
  EXPECT_THAT(Touched(), UnorderedElementsAre("n1", "n3"));
  EXPECT_THAT(Touched(), IsEmpty()) << "nothing changed since";
  // An api task gets its address: db's node must let it in; api's own
  // node enforces "api accepts api".
  PutServiceTask("api-1", "api", "n2", "10.200.2.2");
  EXPECT_THAT(Touched(), UnorderedElementsAre("n1", "n2"));
  // A report that changes nothing of the addresses touches nothing.
  auto same = GetTask("api-1");
  same.set_health(Task::HEALTHY);
  Put(state::TaskKey("api-1"), same);
  EXPECT_THAT(Touched(), IsEmpty());
  // web's rules change: only web's nodes (and from now on api's
  // addresses reach them too).
  PutService("web", "api");
  EXPECT_THAT(Touched(), UnorderedElementsAre("n3"));
  PutServiceTask("api-2", "api", "n2", "10.200.2.3");
  EXPECT_THAT(Touched(), UnorderedElementsAre("n1", "n2", "n3"));
  // A stopped task leaves its service's set.
  PutServiceTask("api-2", "api", "n2", "10.200.2.3", Task::STOPPED);
  EXPECT_THAT(Touched(), UnorderedElementsAre("n1", "n2", "n3"));
  gantry::v1::NetworkAcl acl;
  acl.set_name("base");
  Put(state::NetworkAclKey("base"), acl);
  EXPECT_THAT(Touched(), UnorderedElementsAre("n1", "n2", "n3"));
}

}  // namespace
}  // namespace gantry::testing
