// What only SqliteStore does; the Store contract itself is checked for every
// implementation in tests/integration/store_suite_test.cc.

#include "controlplane/store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <map>

namespace gantry::store {
namespace {

using ::testing::HasSubstr;

// SQLite's default VFS while it lives: the real one, except that writes fail
// as on a full disk (SQLITE_FULL, what the unix VFS returns for ENOSPC)
// after set_full(true). Files keep the real methods for everything else.
class FullDiskVfs {
 public:
  FullDiskVfs() : real_(sqlite3_vfs_find(nullptr)), vfs_(*real_) {
    self_ = this;
    vfs_.zName = "gantry-test-full-disk";
    vfs_.xOpen = &Open;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/1);
  }
  ~FullDiskVfs() {
    sqlite3_vfs_unregister(&vfs_);
    self_ = nullptr;
  }
  FullDiskVfs(const FullDiskVfs&) = delete;
  FullDiskVfs& operator=(const FullDiskVfs&) = delete;

  void set_full(bool full) { full_ = full; }

 private:
  // A file's methods with our xWrite; `methods` first, so a file's
  // pMethods is also the address of its Methods.
  struct Methods {
    sqlite3_io_methods methods;
    const sqlite3_io_methods* real;
  };

  static int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    const int rc = self_->real_->xOpen(self_->real_, name, file, flags, out_flags);
    if (rc != SQLITE_OK || file->pMethods == nullptr) return rc;
    // The unix VFS has one table for databases and one for journals.
    auto [it, added] = self_->methods_.try_emplace(file->pMethods);
    if (added) {
      it->second = {*file->pMethods, file->pMethods};
      it->second.methods.xWrite = &Write;
    }
    file->pMethods = &it->second.methods;
    return rc;
  }
  static int Write(sqlite3_file* file, const void* data, int n, sqlite3_int64 offset) {
    if (self_->full_) return SQLITE_FULL;
    return reinterpret_cast<const Methods*>(file->pMethods)->real->xWrite(file, data, n, offset);
  }

  static inline FullDiskVfs* self_ = nullptr;
  sqlite3_vfs* const real_;
  sqlite3_vfs vfs_;
  std::map<const sqlite3_io_methods*, Methods> methods_;  // by the real table
  std::atomic<bool> full_{false};
};

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

TEST(SqliteStoreTest, FullDiskIsAClearErrorAndChangesNothing) {
  FullDiskVfs vfs;  // outlives the store
  const std::string path = std::filesystem::path(testing::TempDir()) / "full-disk-state.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  auto s = SqliteStore::Open({path});
  ASSERT_TRUE(s.ok()) << s.status();
  TxnRequest put;
  put.ops = {Op::Put("/a", "1")};
  ASSERT_TRUE((*s)->Txn(put).ok());

  vfs.set_full(true);
  put.ops = {Op::Put("/a", "2")};
  auto refused = (*s)->Txn(put);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  const std::string message(refused.status().message());
  EXPECT_THAT(message,
              HasSubstr("the control plane's disk is full: no room to write its state store "));
  EXPECT_THAT(message,
              HasSubstr("full-disk-state.db (SQLite: database or disk is full), so nothing was "
                        "changed; free space on the filesystem holding its --data-dir"));
  EXPECT_EQ((*s)->Revision(), 1);
  EXPECT_EQ((*(*s)->Get("/a"))->value, "1");

  vfs.set_full(false);  // room again: the same change goes through
  auto written = (*s)->Txn(put);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->revision, 2);
  EXPECT_EQ((*(*s)->Get("/a"))->value, "2");
}

}  // namespace
}  // namespace gantry::store
