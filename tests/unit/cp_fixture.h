#pragma once

// A control plane's state on an in-memory store with a fake clock, plus
// helpers to register nodes and apply services, for unit tests.

#include <gtest/gtest.h>

#include "common/clock.h"
#include "controlplane/api/operator_api.h"
#include "controlplane/controllers/service_controller.h"
#include "controlplane/events/event_log.h"
#include "controlplane/nodes/node_manager.h"
#include "controlplane/state/cluster_state.h"
#include "controlplane/store/sqlite_store.h"
#include "tests/fakes/recording_connection.h"
#include "tests/unit/spec_examples.h"

namespace gantry::testing {

class ControlPlaneFixture : public ::testing::Test {
 protected:
  ControlPlaneFixture() {
    store_ = std::move(*store::SqliteStore::Open({":memory:", 100000}));
    state_ = std::make_unique<state::ClusterState>(store_.get());
    events_ = std::make_unique<events::EventLog>(store_.get(), &clock_);
    nodes_ = std::make_unique<nodes::NodeManager>(state_.get(), events_.get(), &clock_,
                                                  nodes::NodeManager::Options());
    controller_ = std::make_unique<controllers::ServiceController>(
        state_.get(), events_.get(), &clock_, controllers::ServiceController::Options());
    api_ = std::make_unique<api::OperatorApi>(state_.get(), events_.get(), nodes_.get(), &clock_);
    state_->AddListener([this](const state::Change& c) { nodes_->OnStateChange(c); });
    EXPECT_TRUE(state_->Start().ok());
    EXPECT_TRUE(events_->Start().ok());
  }

  std::shared_ptr<RecordingConnection> Register(const std::string& name, const std::string& zone,
                                                int64_t cpu = 4000,
                                                int64_t memory = int64_t{8} << 30) {
    auto conn = std::make_shared<RecordingConnection>();
    gantry::v1::RegisterRequest r;
    r.set_node_name(name);
    r.set_zone(zone);
    r.set_address("10.0.0." + std::to_string(++address_));
    r.mutable_capacity()->set_cpu(cpu);
    r.mutable_capacity()->set_memory(memory);
    r.set_port_range_start(20000);
    r.set_port_range_end(20100);
    auto st = nodes_->Register(conn, r);
    EXPECT_TRUE(st.ok()) << st.status();
    return conn;
  }

  static gantry::v1::TaskDefinition WebTd(int64_t memory = 32 << 20) {
    gantry::v1::TaskDefinition td = spec::testing::ValidTd();
    td.mutable_containers(0)->set_memory(memory);
    return td;
  }

  absl::StatusOr<gantry::v1::ApplyResponse> ApplyWeb(int count, int64_t memory = 32 << 20) {
    gantry::v1::ApplyRequest req;
    *req.add_task_definitions() = WebTd(memory);
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(count);
    return api_->Apply(req);
  }

  std::vector<gantry::v1::Task> Tasks(bool include_stopped = false) {
    return state_->ListTasks({.service = "web", .include_stopped = include_stopped});
  }

  // Plays the agent: reports a task's state.
  void Report(const std::string& node, const std::string& task_id, gantry::v1::Task::Status s,
              const std::string& reason = "") {
    gantry::v1::TaskStatusReport report;
    auto* ts = report.add_tasks();
    ts->set_task_id(task_id);
    ts->set_status(s);
    ts->set_reason(reason);
    nodes_->OnStatus(node, report);
  }

  // Plays every agent of the "web" tasks: pending tasks start, stopping
  // tasks stop.
  void PlayAgents() {
    for (const auto& t : Tasks()) {
      if (t.desired_status() == gantry::v1::Task::RUNNING &&
          t.last_status() == gantry::v1::Task::PENDING) {
        Report(t.node(), t.id(), gantry::v1::Task::RUNNING);
      } else if (t.desired_status() == gantry::v1::Task::STOPPED) {
        Report(t.node(), t.id(), gantry::v1::Task::STOPPED);
      }
    }
  }

  std::vector<std::string> EventMessages(const std::string& service = "") {
    std::vector<std::string> out;
    for (const auto& e : events_->List(service, 1000)) out.push_back(e.message());
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<state::ClusterState> state_;
  std::unique_ptr<events::EventLog> events_;
  std::unique_ptr<nodes::NodeManager> nodes_;
  std::unique_ptr<controllers::ServiceController> controller_;
  std::unique_ptr<api::OperatorApi> api_;
  int address_ = 0;
};

}  // namespace gantry::testing
