#pragma once

// For the unit tests of the ServiceController's parts: the control plane
// fixture with three nodes in zones a, b and c, the shared collaborators
// (a recheck schedule, a failure recorder, a task stopper) and helpers that
// write tasks and services into the state directly.

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "controlplane/controllers/failure_recorder.h"
#include "controlplane/controllers/recheck_schedule.h"
#include "controlplane/controllers/task_stopper.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/state/keys.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {

class ControllersFixture : public ControlPlaneFixture {
 protected:
  void SetUp() override {
    Register("a1", "a");
    Register("b1", "b");
    Register("c1", "c");
  }

  // A task of "web" on `node` (zone = the node's first letter), desired
  // RUNNING, with the given last status.
  static gantry::v1::Task WebTask(const std::string& id, const std::string& node,
                                  gantry::v1::Task::Status last = gantry::v1::Task::RUNNING,
                                  const std::string& deployment = "d1") {
    gantry::v1::Task t;
    t.set_id(id);
    t.set_service("web");
    t.set_node(node);
    t.set_zone(node.substr(0, 1));
    t.set_deployment_id(deployment);
    t.set_task_definition("web:1");
    t.set_desired_status(gantry::v1::Task::RUNNING);
    t.set_last_status(last);
    return t;
  }
  // Writes `task` into the state as it is.
  void Put(const gantry::v1::Task& task) {
    store::TxnRequest txn;
    txn.ops.push_back(store::Op::Put(state::TaskKey(task.id()), task.SerializeAsString()));
    auto result = state_->Commit(txn);
    ASSERT_TRUE(result.ok() && result->succeeded) << result.status();
  }
  gantry::v1::Task Get(const std::string& id) { return state_->GetTask(id)->value; }
  // Plays the agent without the node manager: `id`'s last status becomes
  // `status` (RUNNING: started now; STOPPED: stopped now).
  void SetLastStatus(const std::string& id, gantry::v1::Task::Status status) {
    ASSERT_TRUE(state_
                    ->UpdateTask(id,
                                 [&](gantry::v1::Task& t) {
                                   t.set_last_status(status);
                                   if (status == gantry::v1::Task::RUNNING) {
                                     *t.mutable_started_at() = ToProtoTime(clock_.Now());
                                   }
                                   if (status == gantry::v1::Task::STOPPED) {
                                     *t.mutable_stopped_at() = ToProtoTime(clock_.Now());
                                   }
                                   return true;
                                 })
                    .ok());
  }
  // Plays the agent reporting `id` failed and stopped now.
  void Fail(const std::string& id) {
    ASSERT_TRUE(state_
                    ->UpdateTask(id,
                                 [&](gantry::v1::Task& t) {
                                   t.set_desired_status(gantry::v1::Task::STOPPED);
                                   t.set_last_status(gantry::v1::Task::STOPPED);
                                   t.set_failed(true);
                                   *t.mutable_stopped_at() = ToProtoTime(clock_.Now());
                                   return true;
                                 })
                    .ok());
  }
  gantry::v1::Service Web() { return state_->GetService("web")->value; }
  // Applies "web" with `count` tasks and returns the stored service.
  gantry::v1::Service Apply(int count) {
    auto applied = ApplyWeb(count);
    EXPECT_TRUE(applied.ok()) << applied.status();
    return Web();
  }

  controllers::RecheckSchedule rechecks_;
  controllers::FailureRecorder failures_{events_.get(), &clock_, absl::Minutes(1)};
  controllers::TaskStopper stopper_{state_.get(), events_.get(), &clock_, &rechecks_};
};

}  // namespace gantry::testing
