#pragma once

// Store backed by an embedded SQLite database in write-ahead-log mode with
// synchronous=FULL, so every committed transaction is on disk before Txn
// returns. History for watches is kept for the last `history_revisions`
// revisions. One connection, guarded by a mutex: SQLite serialises writers
// anyway, and the control plane batches its writes.

#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "controlplane/store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gantry::store {

class SqliteStore final : public Store {
 public:
  struct Options {
    // ":memory:" for tests that need no durability.
    std::string path;
    int64_t history_revisions = 100'000;
  };

  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const Options& options);
  ~SqliteStore() override;

  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key) override;
  absl::StatusOr<RangeResult> Range(absl::string_view prefix) override;
  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override;
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(absl::string_view prefix,
                                                     int64_t after_revision, WatchCallback callback,
                                                     ResyncCallback resync = nullptr) override;
  int64_t Revision() override;

 private:
  struct Watcher {
    std::string prefix;
    WatchCallback callback;
  };
  class Handle;

  SqliteStore(sqlite3* db, Options options);
  absl::Status Init();
  absl::Status Exec(const char* sql);
  absl::StatusOr<int64_t> LoadMeta(const char* name);
  absl::Status Compact();
  // The parts of Txn(), with mu_ held.
  absl::StatusOr<bool> ComparesHold(const TxnRequest& request);
  // Writes every op and the new revision in one SQLite transaction.
  absl::StatusOr<std::vector<Event>> WriteOps(const TxnRequest& request, int64_t rev);
  // One op's row and history; no event for deleting a missing key.
  absl::StatusOr<std::optional<Event>> WriteOp(const Op& op, int64_t rev, int seq);
  void Unregister(Watcher* watcher);
  static void Deliver(const std::vector<std::shared_ptr<Watcher>>& watchers, int64_t revision,
                      const std::vector<Event>& events);

  sqlite3* const db_;
  const Options options_;

  std::mutex mu_;                               // guards db_ and everything below
  std::map<std::string, sqlite3_stmt*> stmts_;  // prepared once, reused
  int64_t revision_ = 0;
  int64_t compacted_ = 0;  // history holds revisions > compacted_
  std::list<std::shared_ptr<Watcher>> watchers_;

  // Serialises callback delivery. Lock order: mu_, then notify_mu_.
  std::mutex notify_mu_;
};

}  // namespace gantry::store
