#include "controlplane/state/keys.h"
#include "tests/fakes/forwarding_store.h"
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

// A watch that lags behind the store (another control plane wrote first, an
// etcd watch has not delivered yet): a lost compare-and-swap waits for the
// cache to hold the winning write, then mutates that, instead of retrying
// against the stale copy until it gives up.
TEST_F(ClusterStateTest, ALostCompareAndSwapWaitsForTheWinningWrite) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(1).ok());
  ForwardingStore lagging(store_.get());
  state::ClusterState mine(&lagging);
  ASSERT_TRUE(mine.Start().ok());
  lagging.HoldWatchEvents();
  // Another writer scales to 7; our cache does not know yet.
  ASSERT_TRUE(state_
                  ->UpdateService("web",
                                  [](gantry::v1::Service& s) {
                                    s.set_desired_count(7);
                                    return true;
                                  })
                  .ok());
  // Our CAS fails; reading the key back lets the held events through, as the
  // watch catching up would.
  lagging.on_get = [&](absl::string_view) { lagging.ReleaseWatchEvents(); };
  int calls = 0;
  auto st = mine.UpdateService("web", [&](gantry::v1::Service& s) {
    ++calls;
    s.set_desired_count(s.desired_count() + 1);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(state_->GetService("web")->value.desired_count(), 8);
}

// Batches of new tasks fit etcd's transaction limits: split into as many
// transactions as needed, each task with its own create-only comparison.
TEST_F(ClusterStateTest, CommitEachSplitsIndependentWritesToTheStoresLimits) {
  ForwardingStore small(store_.get());
  small.limits.max_ops = 3;
  state::ClusterState mine(&small);
  ASSERT_TRUE(mine.Start().ok());
  store::TxnRequest batch;
  for (int i = 0; i < 7; ++i) {
    const std::string key = state::TaskKey("t" + std::to_string(i));
    batch.compares.push_back({key, 0});
    batch.ops.push_back(store::Op::Put(key, Task().SerializeAsString()));
  }
  auto done = mine.CommitEach(batch);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->succeeded);
  EXPECT_EQ(small.txns, 3);
  EXPECT_EQ(store_->Range(state::TaskKey(""))->kvs.size(), 7u);
  // A failed comparison ends it: what came before stays, nothing after.
  store::TxnRequest again;
  for (int i = 5; i < 12; ++i) {
    const std::string key = state::TaskKey("t" + std::to_string(i));
    again.compares.push_back({key, 0});
    again.ops.push_back(store::Op::Put(key, Task().SerializeAsString()));
  }
  done = mine.CommitEach(again);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->succeeded);
  EXPECT_EQ(store_->Range(state::TaskKey(""))->kvs.size(), 7u);
}

// After a remote store's watch lost history, the cache is rebuilt from a
// fresh listing: what was deleted meanwhile is gone, and listeners hear about
// everything so controllers look again.
TEST_F(ClusterStateTest, AResyncReplacesTheCacheAndTellsListeners) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(1).ok());
  ForwardingStore resyncing(store_.get());
  state::ClusterState mine(&resyncing);
  ASSERT_TRUE(mine.Start().ok());
  resyncing.HoldWatchEvents();  // the deletion below never arrives as an event
  store::TxnRequest del;
  del.ops.push_back(store::Op::Delete(state::ServiceKey("web")));
  ASSERT_TRUE(store_->Txn(del)->succeeded);
  ASSERT_TRUE(mine.GetService("web").has_value()) << "the stale cache still has it";
  state::Change heard;
  mine.AddListener([&](const state::Change& c) { heard = c; });
  resyncing.Resync();
  EXPECT_FALSE(mine.GetService("web").has_value());
  EXPECT_TRUE(mine.GetNode("n1").has_value());
  EXPECT_TRUE(heard.services.count("web"));
  EXPECT_TRUE(heard.nodes.count("n1"));
  EXPECT_TRUE(heard.node_records);
}

}  // namespace
}  // namespace gantry::testing
