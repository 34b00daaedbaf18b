// Snapshots and restores on in-memory SQLite stores; the same code runs on
// etcd (tests/e2e/backup_test.sh migrates into a real one).

#include "controlplane/store/snapshot.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "controlplane/store/sqlite_store.h"
#include "controlplane/store/store_meta.h"

namespace gantry::store {
namespace {

std::unique_ptr<Store> Memory() { return std::move(*SqliteStore::Open({":memory:"})); }

void Put(Store* s, const std::string& k, const std::string& v) {
  TxnRequest t;
  t.ops.push_back(Op::Put(k, v));
  ASSERT_TRUE(s->Txn(t)->succeeded);
}

TEST(SnapshotTest, ARestoredStoreHoldsEveryKeyButTheRunningProcessesOwn) {
  auto source = Memory();
  ASSERT_TRUE(ClaimStore(source.get(), "cluster-1", "source").ok());
  Put(source.get(), "/gantry/services/web", "w");
  Put(source.get(), "/identity/tokens/t", "hash");
  Put(source.get(), "/meta/leader", "a running leader");
  Put(source.get(), "/meta/replicas/cp1", "a running replica");
  FakeClock clock;
  auto snapshot = TakeSnapshot(source.get(), &clock);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->cluster_id(), "cluster-1");
  EXPECT_EQ(snapshot->schema_version(), kSchemaVersion);
  EXPECT_EQ(snapshot->entries_size(), 4);  // two meta keys and two objects

  auto target = Memory();
  // Many keys go in batches within the store's limits.
  ASSERT_TRUE(RestoreSnapshot(*snapshot, target.get(), "target").ok());
  EXPECT_EQ((*target->Get("/gantry/services/web"))->value, "w");
  EXPECT_EQ((*target->Get("/identity/tokens/t"))->value, "hash");
  EXPECT_FALSE(target->Get("/meta/leader")->has_value());
  EXPECT_FALSE(target->Get(kRestoringKey)->has_value());
  EXPECT_TRUE(ClaimStore(target.get(), "cluster-1", "target").ok());
  EXPECT_FALSE(ClaimStore(target.get(), "cluster-2", "target").ok());
}

TEST(SnapshotTest, ARestoreNeverWritesOverAStateAndAHalfRestoreIsRefused) {
  auto source = Memory();
  ASSERT_TRUE(ClaimStore(source.get(), "cluster-1", "source").ok());
  FakeClock clock;
  auto snapshot = TakeSnapshot(source.get(), &clock);
  ASSERT_TRUE(snapshot.ok());
  auto used = Memory();
  Put(used.get(), "/gantry/services/db", "d");
  auto st = RestoreSnapshot(*snapshot, used.get(), "used");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("used is not empty"), std::string::npos) << st;
  EXPECT_EQ(used->Range("")->kvs.size(), 1u) << "nothing was written";

  auto half = Memory();
  Put(half.get(), kRestoringKey, "7");
  st = ClaimStore(half.get(), "cluster-1", "half");
  EXPECT_NE(st.message().find("restored only in part"), std::string::npos) << st;
}

TEST(SnapshotTest, AStoreOfNoClusterAndAForeignFormatAreRefused) {
  auto empty = Memory();
  FakeClock clock;
  EXPECT_FALSE(TakeSnapshot(empty.get(), &clock).ok());
  gantry::v1::StoreSnapshot future;
  future.set_format(kSnapshotFormat + 1);
  future.set_cluster_id("c");
  EXPECT_EQ(RestoreSnapshot(future, empty.get(), "t").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::store
