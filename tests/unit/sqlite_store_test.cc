#include "controlplane/store/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace gantry::store {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gantry-store-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteStore> Open(int64_t history = 100'000) {
    auto s = SqliteStore::Open({(dir_ / "state.db").string(), history});
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  std::filesystem::path dir_;
};

TxnRequest Put(const std::string& k, const std::string& v, std::optional<int64_t> expect = {}) {
  TxnRequest t;
  if (expect) t.compares.push_back({k, *expect});
  t.ops.push_back(Op::Put(k, v));
  return t;
}

TEST_F(SqliteStoreTest, EachTransactionIsOneRevision) {
  auto s = Open();
  EXPECT_EQ(s->Revision(), 0);
  TxnRequest t;
  t.ops = {Op::Put("/a", "1"), Op::Put("/b", "2")};
  auto r = s->Txn(t);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, 1);
  auto a = s->Get("/a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->value, "1");
  EXPECT_EQ((*a)->create_revision, 1);
  EXPECT_EQ((*a)->mod_revision, 1);
  ASSERT_TRUE(s->Txn(Put("/a", "3")).ok());
  a = s->Get("/a");
  EXPECT_EQ((*a)->create_revision, 1);
  EXPECT_EQ((*a)->mod_revision, 2);
}

TEST_F(SqliteStoreTest, CompareAndSwap) {
  auto s = Open();
  // Create only if absent.
  EXPECT_TRUE(s->Txn(Put("/k", "v1", 0))->succeeded);
  EXPECT_FALSE(s->Txn(Put("/k", "v2", 0))->succeeded);
  // Update only from the revision we read.
  EXPECT_FALSE(s->Txn(Put("/k", "v2", 7))->succeeded);
  EXPECT_TRUE(s->Txn(Put("/k", "v2", 1))->succeeded);
  EXPECT_EQ((*s->Get("/k"))->value, "v2");
  // A failed comparison writes nothing, not even other keys.
  TxnRequest t = Put("/k", "v3", 1);
  t.ops.push_back(Op::Put("/other", "x"));
  EXPECT_FALSE(s->Txn(t)->succeeded);
  EXPECT_FALSE(s->Get("/other")->has_value());
  EXPECT_EQ(s->Revision(), 2);
}

TEST_F(SqliteStoreTest, RangeByPrefix) {
  auto s = Open();
  TxnRequest t;
  t.ops = {Op::Put("/gantry/tasks/b", "2"), Op::Put("/gantry/tasks/a", "1"),
           Op::Put("/gantry/tasksX", "no"), Op::Put("/gantry/nodes/n", "n")};
  ASSERT_TRUE(s->Txn(t).ok());
  auto r = s->Range("/gantry/tasks/");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0].key, "/gantry/tasks/a");
  EXPECT_EQ(r->kvs[1].key, "/gantry/tasks/b");
  EXPECT_EQ(r->revision, 1);
  EXPECT_EQ(s->Range("")->kvs.size(), 4u);
}

TEST_F(SqliteStoreTest, DeleteIsAnEventAndForgetsTheKey) {
  auto s = Open();
  ASSERT_TRUE(s->Txn(Put("/x", "1")).ok());
  std::vector<Event> seen;
  auto w = s->Watch("/", 1, [&](int64_t, const std::vector<Event>& evs) {
    seen.insert(seen.end(), evs.begin(), evs.end());
  });
  ASSERT_TRUE(w.ok());
  TxnRequest del;
  del.ops.push_back(Op::Delete("/x"));
  del.ops.push_back(Op::Delete("/never-existed"));
  ASSERT_TRUE(s->Txn(del)->succeeded);
  EXPECT_FALSE(s->Get("/x")->has_value());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, Event::Type::kDelete);
  EXPECT_EQ(seen[0].kv.mod_revision, 2);
}

TEST_F(SqliteStoreTest, WatchReplaysHistoryThenFollowsLive) {
  auto s = Open();
  ASSERT_TRUE(s->Txn(Put("/w/1", "a")).ok());
  ASSERT_TRUE(s->Txn(Put("/other", "b")).ok());
  ASSERT_TRUE(s->Txn(Put("/w/2", "c")).ok());
  std::vector<std::pair<int64_t, std::string>> seen;
  auto w = s->Watch("/w/", 1, [&](int64_t rev, const std::vector<Event>& evs) {
    for (const auto& e : evs) seen.push_back({rev, e.kv.key});
  });
  ASSERT_TRUE(w.ok());
  // Only revision 3 is after 1 and under the prefix.
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_pair(int64_t{3}, std::string("/w/2")));
  ASSERT_TRUE(s->Txn(Put("/w/3", "d")).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].first, 4);
  // Cancelled watches hear nothing more.
  w->reset();
  ASSERT_TRUE(s->Txn(Put("/w/4", "e")).ok());
  EXPECT_EQ(seen.size(), 2u);
}

TEST_F(SqliteStoreTest, CompactedHistoryIsReported) {
  auto s = Open(/*history=*/10);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s->Txn(Put("/k", std::to_string(i))).ok());
  auto w = s->Watch("/", 0, [](int64_t, const std::vector<Event>&) {});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kOutOfRange);
  // Watching from a recent revision still works.
  int events = 0;
  auto recent = s->Watch(
      "/", 28, [&](int64_t, const std::vector<Event>& e) { events += static_cast<int>(e.size()); });
  ASSERT_TRUE(recent.ok()) << recent.status();
  EXPECT_EQ(events, 2);
}

TEST_F(SqliteStoreTest, EverythingSurvivesReopening) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Txn(Put("/a", "1")).ok());
    ASSERT_TRUE(s->Txn(Put("/b", "2")).ok());
  }
  auto s = Open();
  EXPECT_EQ(s->Revision(), 2);
  EXPECT_EQ((*s->Get("/b"))->value, "2");
  // History survives too: a watcher can catch up across the restart.
  int events = 0;
  auto w = s->Watch(
      "/", 0, [&](int64_t, const std::vector<Event>& e) { events += static_cast<int>(e.size()); });
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(events, 2);
  EXPECT_EQ(s->Txn(Put("/c", "3"))->revision, 3);
}

TEST_F(SqliteStoreTest, UnwritableDirectoryIsAClearError) {
  auto s = SqliteStore::Open({"/nonexistent-dir/state.db", 10});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent-dir/state.db"), std::string::npos);
}

}  // namespace
}  // namespace gantry::store
