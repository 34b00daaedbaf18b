#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;

class ClusterStateTest : public ControlPlaneFixture {};

TEST_F(ClusterStateTest, TracksAllocationsPerNodeFromTasks) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(2).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  auto n = state_->GetNode("n1")->value;
  EXPECT_EQ(n.allocated().cpu(), 200);
  EXPECT_EQ(n.allocated().memory(), 64 << 20);
  EXPECT_EQ(n.running_tasks(), 2);
  state_->WithPlacementView(
      "web", [](const scheduler::NodeTable& table, const scheduler::ServiceLoad& load) {
        ASSERT_EQ(table.nodes().size(), 1u);
        EXPECT_EQ(load.at(0), 2);
        EXPECT_EQ(table.nodes()[0].ports.size(), 2u);
      });
  // A stopped task frees its resources.
  const auto id = Tasks()[0].id();
  Report("n1", id, Task::STOPPED);
  EXPECT_EQ(state_->GetNode("n1")->value.allocated().cpu(), 100);
  state_->WithPlacementView("web",
                            [](const scheduler::NodeTable& table, const scheduler::ServiceLoad&) {
                              EXPECT_EQ(table.nodes()[0].ports.size(), 1u);
                            });
}

TEST_F(ClusterStateTest, ReloadsEverythingFromTheStore) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(2).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  state::ClusterState reloaded(store_.get());
  ASSERT_TRUE(reloaded.Start().ok());
  EXPECT_EQ(reloaded.ListTasks({}).size(), 2u);
  EXPECT_EQ(reloaded.GetNode("n1")->value.allocated().cpu(), 200);
  EXPECT_EQ(reloaded.GetService("web")->value.resolved_task_definition(), "web:1");
}

TEST_F(ClusterStateTest, FindTaskByPrefix) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(2).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const auto id = Tasks()[0].id();
  auto t = state_->FindTask(id.substr(0, 10));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->id(), id);
  EXPECT_EQ(state_->FindTask("zzzz").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(state_->FindTask("").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClusterStateTest, UpdateRetriesOnConflict) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(1).ok());
  int calls = 0;
  auto st = state_->UpdateService("web", [&](gantry::v1::Service& s) {
    if (++calls == 1) {
      // Someone else writes in between our read and our write.
      EXPECT_TRUE(state_
                      ->UpdateService("web",
                                      [](gantry::v1::Service& o) {
                                        o.set_desired_count(7);
                                        return true;
                                      })
                      .ok());
    }
    s.set_desired_count(s.desired_count() + 1);
    return true;
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(state_->GetService("web")->value.desired_count(), 8);
}

}  // namespace
}  // namespace gantry::testing
