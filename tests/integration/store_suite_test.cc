// One suite for every Store implementation: SqliteStore on a temp file and
// EtcdStore on a real etcd (Debian's etcd-server) started for the suite.
// Revisions are compared relative to where each test starts, since etcd's
// first revision is 1 and the server is shared by the tests.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "controlplane/store/etcd_store.h"
#include "controlplane/store/sqlite_store.h"
#include "tests/support/etcd_server.h"

namespace gantry::store {
namespace {

class Backend {
 public:
  virtual ~Backend() = default;
  // A new client on the same data (a reopened file, a new etcd connection).
  virtual std::unique_ptr<Store> Open() = 0;
  // Afterwards, watches from before `revision` get OutOfRange.
  virtual void Compact(Store* store, int64_t revision) = 0;
};

// SqliteStore keeps a window of history; the suite's stores keep 20
// revisions, so writing more compacts the rest.
class SqliteBackend final : public Backend {
 public:
  SqliteBackend() {
    // A parameterized test's name holds a '/': keep the dir one level deep
    // so that removing it removes everything.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    dir_ = std::filesystem::temp_directory_path() /
           ("gantry-store-suite-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~SqliteBackend() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Store> Open() override {
    auto s = SqliteStore::Open({(dir_ / "state.db").string(), 20});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  void Compact(Store*, int64_t) override {}

 private:
  std::filesystem::path dir_;
};

// One etcd for the whole suite, stopped and removed when the suite ends.
class EtcdEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    auto s = testing::EtcdServer::Start();
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  void TearDown() override { server_.reset(); }
  static testing::EtcdServer* server() { return server_.get(); }

 private:
  static inline std::unique_ptr<testing::EtcdServer> server_;
};
[[maybe_unused]] ::testing::Environment* const kEtcdEnvironment =
    ::testing::AddGlobalTestEnvironment(new EtcdEnvironment);

testing::EtcdServer* SharedEtcd() { return EtcdEnvironment::server(); }

class EtcdBackend final : public Backend {
 public:
  std::unique_ptr<Store> Open() override {
    if (SharedEtcd() == nullptr) return nullptr;
    EtcdStore::Options options;
    options.etcd.endpoints = {SharedEtcd()->endpoint()};
    auto s = EtcdStore::Open(options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  void Compact(Store* store, int64_t revision) override {
    ASSERT_TRUE(static_cast<EtcdStore*>(store)->Compact(revision).ok());
  }
};

// Events as a watch delivers them, for tests to wait on: a remote store
// replays history on its own thread.
class Seen {
 public:
  WatchCallback Callback() {
    return [this](int64_t rev, const std::vector<Event>& events) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& e : events) seen_.push_back({rev, e});
      cv_.notify_all();
    };
  }
  // Waits (up to 10 s) until at least `n` events arrived; returns them all.
  std::vector<std::pair<int64_t, Event>> AtLeast(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.size() >= n; });
    return seen_;
  }
  std::vector<std::pair<int64_t, Event>> Now() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<int64_t, Event>> seen_;
};

class StoreSuite : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      backend_ = std::make_unique<SqliteBackend>();
    } else {
      backend_ = std::make_unique<EtcdBackend>();
    }
    store_ = backend_->Open();
    ASSERT_NE(store_, nullptr);
    base_ = store_->Revision();
    prefix_ = std::string("/suite/") +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/";
  }

  std::string K(const std::string& name) const { return prefix_ + name; }

  TxnRequest Put(const std::string& k, const std::string& v, std::optional<int64_t> expect = {}) {
    TxnRequest t;
    if (expect) t.compares.push_back({K(k), *expect});
    t.ops.push_back(Op::Put(K(k), v));
    return t;
  }
  int64_t Write(const TxnRequest& t) {
    auto r = store_->Txn(t);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->revision : 0;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Store> store_;
  int64_t base_ = 0;
  std::string prefix_;
};

TEST_P(StoreSuite, EachTransactionIsOneRevision) {
  TxnRequest t;
  t.ops = {Op::Put(K("a"), "1"), Op::Put(K("b"), "2")};
  auto r = store_->Txn(t);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, base_ + 1);
  EXPECT_EQ(store_->Revision(), base_ + 1);
  auto a = store_->Get(K("a"));
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->value, "1");
  EXPECT_EQ((*a)->create_revision, base_ + 1);
  EXPECT_EQ((*a)->mod_revision, base_ + 1);
  EXPECT_EQ(Write(Put("a", "3")), base_ + 2);
  a = store_->Get(K("a"));
  EXPECT_EQ((*a)->create_revision, base_ + 1);
  EXPECT_EQ((*a)->mod_revision, base_ + 2);
  EXPECT_FALSE(store_->Get(K("missing"))->has_value());
}

TEST_P(StoreSuite, CompareAndSwap) {
  // Create only if absent.
  EXPECT_TRUE(store_->Txn(Put("k", "v1", 0))->succeeded);
  EXPECT_FALSE(store_->Txn(Put("k", "v2", 0))->succeeded);
  // Update only from the revision we read.
  EXPECT_FALSE(store_->Txn(Put("k", "v2", base_ + 7))->succeeded);
  EXPECT_TRUE(store_->Txn(Put("k", "v2", base_ + 1))->succeeded);
  EXPECT_EQ((*store_->Get(K("k")))->value, "v2");
  // A failed comparison writes nothing, not even other keys.
  TxnRequest t = Put("k", "v3", base_ + 1);
  t.ops.push_back(Op::Put(K("other"), "x"));
  auto failed = store_->Txn(t);
  EXPECT_FALSE(failed->succeeded);
  EXPECT_EQ(failed->revision, base_ + 2) << "a failed transaction reports the current revision";
  EXPECT_FALSE(store_->Get(K("other"))->has_value());
}

// How a leader fences its writes: the leader key's create_revision stays
// put while its value (and lease) are rewritten.
TEST_P(StoreSuite, CompareOnTheCreateRevision) {
  Write(Put("leader", "a"));
  Write(Put("leader", "a, renewed"));
  TxnRequest fenced = Put("write", "1");
  fenced.compares.push_back({K("leader"), base_ + 1, Compare::Target::kCreate});
  EXPECT_TRUE(store_->Txn(fenced)->succeeded);
  // A new leader key (deleted and won again) has another create_revision.
  TxnRequest del;
  del.ops.push_back(Op::Delete(K("leader")));
  Write(del);
  Write(Put("leader", "b"));
  EXPECT_FALSE(store_->Txn(fenced)->succeeded);
  TxnRequest absent = Put("write", "2");
  absent.compares.push_back({K("nobody"), 0, Compare::Target::kCreate});
  EXPECT_TRUE(store_->Txn(absent)->succeeded);
}

TEST_P(StoreSuite, SeveralOpsOnOneKeyInOneTransactionLastOneWins) {
  TxnRequest t;
  t.ops = {Op::Put(K("k"), "1"), Op::Put(K("j"), "x"), Op::Put(K("k"), "2"), Op::Delete(K("j")),
           Op::Put(K("j"), "3")};
  EXPECT_TRUE(store_->Txn(t)->succeeded);
  EXPECT_EQ((*store_->Get(K("k")))->value, "2");
  EXPECT_EQ((*store_->Get(K("j")))->value, "3");
}

TEST_P(StoreSuite, RangeByPrefixInKeyOrderAcrossPages) {
  TxnRequest t;
  t.ops = {Op::Put(K("tasks/b"), "2"), Op::Put(K("tasks/a"), "1"), Op::Put(K("tasksX"), "no"),
           Op::Put(K("nodes/n"), "n")};
  ASSERT_TRUE(store_->Txn(t).ok());
  auto r = store_->Range(K("tasks/"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0].key, K("tasks/a"));
  EXPECT_EQ(r->kvs[1].key, K("tasks/b"));
  EXPECT_EQ(r->revision, base_ + 1);
  EXPECT_EQ(store_->Range(prefix_)->kvs.size(), 4u);
  // More keys than one etcd page (1,000) come back whole and in order.
  for (int batch = 0; batch < 25; ++batch) {
    TxnRequest many;
    for (int i = 0; i < 100; ++i) {
      char name[16];
      std::snprintf(name, sizeof(name), "many/%05d", batch * 100 + i);
      many.ops.push_back(Op::Put(K(name), "v"));
    }
    ASSERT_TRUE(store_->Txn(many)->succeeded);
  }
  auto all = store_->Range(K("many/"));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->kvs.size(), 2500u);
  EXPECT_EQ(all->kvs.front().key, K("many/00000"));
  EXPECT_EQ(all->kvs.back().key, K("many/02499"));
  EXPECT_TRUE(std::is_sorted(all->kvs.begin(), all->kvs.end(),
                             [](const auto& a, const auto& b) { return a.key < b.key; }));
  EXPECT_EQ(all->revision, base_ + 26);
}

TEST_P(StoreSuite, TransactionsAboveTheLimitsAreRefusedWhole) {
  const TxnLimits limits = store_->Limits();
  if (limits.max_ops == SIZE_MAX) {
    // Unlimited (SQLite): a big transaction just commits.
    TxnRequest big;
    for (int i = 0; i < 500; ++i) big.ops.push_back(Op::Put(K(std::to_string(i)), "v"));
    EXPECT_TRUE(store_->Txn(big)->succeeded);
    return;
  }
  TxnRequest too_many;
  for (size_t i = 0; i <= limits.max_ops; ++i) {
    too_many.ops.push_back(Op::Put(K(std::to_string(i)), "v"));
  }
  auto r = store_->Txn(too_many);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("at most"), std::string::npos) << r.status();
  TxnRequest too_big;
  too_big.ops.push_back(Op::Put(K("big"), std::string(limits.max_bytes, 'x')));
  EXPECT_EQ(store_->Txn(too_big).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->Range(prefix_)->kvs.empty()) << "nothing of either was written";
  // Right at the limit it commits.
  too_many.ops.pop_back();
  EXPECT_TRUE(store_->Txn(too_many)->succeeded);
}

TEST_P(StoreSuite, DeleteIsAnEventAndForgetsTheKey) {
  Write(Put("x", "1"));
  Seen seen;
  auto w = store_->Watch(prefix_, base_ + 1, seen.Callback());
  ASSERT_TRUE(w.ok()) << w.status();
  TxnRequest del;
  del.ops.push_back(Op::Delete(K("x")));
  del.ops.push_back(Op::Delete(K("never-existed")));
  ASSERT_TRUE(store_->Txn(del)->succeeded);
  EXPECT_FALSE(store_->Get(K("x"))->has_value());
  auto events = seen.Now();  // delivered before Txn returned
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].second.type, Event::Type::kDelete);
  EXPECT_EQ(events[0].second.kv.key, K("x"));
  EXPECT_EQ(events[0].second.kv.mod_revision, base_ + 2);
}

TEST_P(StoreSuite, WatchReplaysHistoryThenFollowsLive) {
  Write(Put("w/1", "a"));
  Write(Put("other", "b"));
  Write(Put("w/2", "c"));
  Seen seen;
  auto w = store_->Watch(K("w/"), base_ + 1, seen.Callback());
  ASSERT_TRUE(w.ok());
  // Only base+3 is after base+1 and under the prefix.
  auto events = seen.AtLeast(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, base_ + 3);
  EXPECT_EQ(events[0].second.kv.key, K("w/2"));
  // A live write is delivered before its Txn returns: the writer reads it
  // back from its own watched cache.
  Write(Put("w/3", "d"));
  events = seen.Now();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].first, base_ + 4);
  // Cancelled watches hear nothing more.
  w->reset();
  Write(Put("w/4", "e"));
  EXPECT_EQ(seen.Now().size(), 2u);
}

TEST_P(StoreSuite, AnotherClientsWritesReachTheWatch) {
  if (GetParam() == "sqlite") return;  // one process owns an SQLite file
  Seen seen;
  auto w = store_->Watch(prefix_, store_->Revision(), seen.Callback());
  ASSERT_TRUE(w.ok());
  auto other = backend_->Open();
  ASSERT_NE(other, nullptr);
  TxnRequest t;
  t.ops.push_back(Op::Put(K("from-b"), "1"));
  ASSERT_TRUE(other->Txn(t)->succeeded);
  auto events = seen.AtLeast(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].second.kv.key, K("from-b"));
}

TEST_P(StoreSuite, CompactedHistoryIsReported) {
  for (int i = 0; i < 30; ++i) Write(Put("k", std::to_string(i)));
  backend_->Compact(store_.get(), base_ + 25);
  auto w = store_->Watch(prefix_, base_, [](int64_t, const std::vector<Event>&) {});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kOutOfRange) << w.status();
  // Watching from a recent revision still works.
  Seen seen;
  auto recent = store_->Watch(prefix_, base_ + 28, seen.Callback());
  ASSERT_TRUE(recent.ok()) << recent.status();
  EXPECT_EQ(seen.AtLeast(2).size(), 2u);
}

TEST_P(StoreSuite, EverythingSurvivesReopening) {
  Write(Put("a", "1"));
  Write(Put("b", "2"));
  store_.reset();
  store_ = backend_->Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->Revision(), base_ + 2);
  EXPECT_EQ((*store_->Get(K("b")))->value, "2");
  // History survives too: a watcher catches up across the restart.
  Seen seen;
  auto w = store_->Watch(prefix_, base_, seen.Callback());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(seen.AtLeast(2).size(), 2u);
  EXPECT_EQ(Write(Put("c", "3")), base_ + 3);
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreSuite, ::testing::Values("sqlite", "etcd"),
                         [](const auto& info) { return info.param; });

// etcd only: a watch outlives its server's crash and resumes without a gap.
TEST(EtcdStoreTest, AWatchResumesAfterEtcdRestartsWithNothingMissed) {
  auto server = testing::EtcdServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EtcdStore::Options options;
  options.etcd.endpoints = {(*server)->endpoint()};
  auto store = EtcdStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  Seen seen;
  auto w = (*store)->Watch("/r/", (*store)->Revision(), seen.Callback());
  ASSERT_TRUE(w.ok());
  TxnRequest first;
  first.ops.push_back(Op::Put("/r/1", "a"));
  ASSERT_TRUE((*store)->Txn(first)->succeeded);
  ASSERT_TRUE((*server)->Restart().ok());
  // A second client writes while the first one's watch reconnects.
  auto other = EtcdStore::Open(options);
  ASSERT_TRUE(other.ok()) << other.status();
  TxnRequest second;
  second.ops.push_back(Op::Put("/r/2", "b"));
  ASSERT_TRUE((*other)->Txn(second)->succeeded);
  auto events = seen.AtLeast(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].second.kv.key, "/r/2");
}

TEST(EtcdStoreTest, AnUnreachableEtcdIsAClearError) {
  EtcdStore::Options options;
  options.etcd.endpoints = {"127.0.0.1:1"};
  options.etcd.call_timeout = absl::Seconds(2);
  auto store = EtcdStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("127.0.0.1:1"), std::string::npos) << store.status();
  EXPECT_NE(store.status().message().find("check that etcd is running"), std::string::npos);
}

TEST(EtcdStoreTest, StoreUrlsAreCheckedWithClearErrors) {
  EXPECT_EQ(ParseEtcdUrl("etcd://a:1,b:2").value(), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_FALSE(ParseEtcdUrl("http://a:1").ok());
  auto bad = ParseEtcdUrl("etcd://a:1,b");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"b\" is not HOST:PORT"), std::string::npos);
  EXPECT_FALSE(ParseEtcdUrl("etcd://a:99999").ok());
}

}  // namespace
}  // namespace gantry::store
