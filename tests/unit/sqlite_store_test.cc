// What only SqliteStore does; the Store contract itself is checked for every
// implementation in tests/integration/store_suite_test.cc.

#include "controlplane/store/sqlite_store.h"

#include <gtest/gtest.h>

namespace gantry::store {
namespace {

TEST(SqliteStoreTest, ReplayedHistoryIsDeliveredBeforeWatchReturns) {
  auto s = SqliteStore::Open({":memory:"});
  ASSERT_TRUE(s.ok()) << s.status();
  TxnRequest t;
  t.ops = {Op::Put("/a", "1")};
  ASSERT_TRUE((*s)->Txn(t)->succeeded);
  int events = 0;
  auto w = (*s)->Watch(
      "/", 0, [&](int64_t, const std::vector<Event>& e) { events += static_cast<int>(e.size()); });
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(events, 1);
  EXPECT_EQ((*s)->Revision(), 1) << "an empty SQLite store starts at revision 0";
}

TEST(SqliteStoreTest, UnwritableDirectoryIsAClearError) {
  auto s = SqliteStore::Open({"/nonexistent-dir/state.db", 10});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent-dir/state.db"), std::string::npos);
}

}  // namespace
}  // namespace gantry::store
