#pragma once

// The state the parts of controlplane/nodes/ work on, without the rest of
// the control plane: an in-memory store, ClusterState, EventLog and a fake
// clock, with helpers that write nodes, tasks and the "web:1" task
// definition straight into the store.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controlplane/events/event_log.h"
#include "controlplane/state/cluster_state.h"
#include "controlplane/state/keys.h"
#include "controlplane/store/sqlite_store.h"

namespace gantry::testing {

class NodesFixture : public ::testing::Test {
 protected:
  NodesFixture() {
    store_ = std::move(*store::SqliteStore::Open({":memory:", 100000}));
    state_ = std::make_unique<state::ClusterState>(store_.get());
    events_ = std::make_unique<events::EventLog>(store_.get(), &clock_);
    EXPECT_TRUE(state_->Start().ok());
    EXPECT_TRUE(events_->Start().ok());
  }

  void Put(const std::string& key, const google::protobuf::Message& value) {
    store::TxnRequest txn;
    txn.ops.push_back(store::Op::Put(key, value.SerializeAsString()));
    auto result = state_->Commit(txn);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_TRUE(result->succeeded);
  }

  gantry::v1::Node PutNode(const std::string& name, const std::string& zone,
                           gantry::v1::Node::Status status = gantry::v1::Node::ACTIVE) {
    gantry::v1::Node n;
    n.set_name(name);
    n.set_zone(zone);
    n.set_status(status);
    n.mutable_capacity()->set_cpu(4000);
    n.mutable_capacity()->set_memory(int64_t{8} << 30);
    n.set_port_range_start(20000);
    n.set_port_range_end(20100);
    Put(state::NodeKey(name), n);
    return n;
  }

  // "web:1": one container, httpd.
  void PutWebTaskDefinition() {
    gantry::v1::TaskDefinition td;
    td.set_family("web");
    td.set_revision(1);
    auto* c = td.add_containers();
    c->set_name("httpd");
    c->set_image("example.org/demo/busybox:1");
    Put(state::TaskDefKey("web", 1), td);
  }

  // A task of service "web" on `node`, running "web:1".
  gantry::v1::Task PutTask(const std::string& id, const std::string& node,
                           gantry::v1::Task::Status desired = gantry::v1::Task::RUNNING,
                           gantry::v1::Task::Status last = gantry::v1::Task::PENDING) {
    gantry::v1::Task t;
    t.set_id(id);
    t.set_service("web");
    t.set_task_definition("web:1");
    t.set_node(node);
    t.set_zone("a");
    t.set_desired_status(desired);
    t.set_last_status(last);
    t.add_containers()->set_name("httpd");
    Put(state::TaskKey(id), t);
    return t;
  }

  gantry::v1::Task GetTask(const std::string& id) { return state_->GetTask(id)->value; }
  gantry::v1::Node GetNode(const std::string& name) { return state_->GetNode(name)->value; }

  std::vector<std::string> EventMessages() {
    std::vector<std::string> out;
    for (const auto& e : events_->List("", 1000)) out.push_back(e.message());
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<state::ClusterState> state_;
  std::unique_ptr<events::EventLog> events_;
};

}  // namespace gantry::testing
