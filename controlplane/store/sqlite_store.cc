#include "controlplane/store/sqlite_store.h"

#include <sqlite3.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace gantry::store {
namespace {

// The status for SQLite's result code `rc` and its `message`. A full disk
// (SQLITE_FULL, what SQLite returns for ENOSPC) is said in words an operator
// can act on: SQLite's own "database or disk is full" reached gantryctl
// naming neither the file nor the fix. A failed write is rolled back, so
// nothing was changed.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view message) {
  if ((rc & 0xff) == SQLITE_FULL) {
    const char* file = sqlite3_db_filename(db, "main");
    return absl::ResourceExhaustedError(
        absl::StrCat("the control plane's disk is full: no room to write its state store ",
                     file == nullptr ? "" : file, " (SQLite: ", sqlite3_errstr(rc),
                     "), so nothing was changed; free space on the filesystem holding its "
                     "--data-dir, then retry"));
  }
  return absl::InternalError(absl::StrCat("sqlite: ", message));
}

// A prepared statement from the store's cache, reset for reuse on scope
// exit. Statements are compiled once per store, not once per call.
class Stmt {
 public:
  Stmt(sqlite3* db, std::map<std::string, sqlite3_stmt*>& cache, const char* sql) : db_(db) {
    auto it = cache.find(sql);
    if (it != cache.end()) {
      stmt_ = it->second;
      rc_ = SQLITE_OK;
    } else {
      rc_ = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
      if (rc_ == SQLITE_OK) cache[sql] = stmt_;
    }
  }
  ~Stmt() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status status() const {
    if (rc_ == SQLITE_OK) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("sqlite prepare: ", sqlite3_errmsg(db_)));
  }
  void BindText(int i, absl::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, absl::string_view s) {
    sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, col));
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  absl::Status StepError(int rc) const {
    return SqliteError(db_, rc, absl::StrCat(sqlite3_errstr(rc), ": ", sqlite3_errmsg(db_)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

// The smallest string greater than every string with this prefix, or "" when
// there is none (prefix of all 0xff bytes, or the empty prefix).
std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return end;
}

absl::Status ReadKeyValue(Stmt& stmt, KeyValue& kv) {
  kv.key = stmt.Text(0);
  kv.value = stmt.Text(1);
  kv.create_revision = stmt.Int(2);
  kv.mod_revision = stmt.Int(3);
  return absl::OkStatus();
}

}  // namespace

class SqliteStore::Handle final : public WatchHandle {
 public:
  Handle(SqliteStore* store, Watcher* watcher) : store_(store), watcher_(watcher) {}
  ~Handle() override { store_->Unregister(watcher_); }

 private:
  SqliteStore* store_;
  Watcher* watcher_;
};

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const Options& options) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("open state store ", options.path, ": ", message,
                                               " (check that --data-dir exists and is writable)"));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, options));
  if (auto st = store->Init(); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("open state store ", options.path, ": ", st.message()));
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, Options options) : db_(db), options_(std::move(options)) {}

SqliteStore::~SqliteStore() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return SqliteError(db_, rc, message);
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::Init() {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3_busy_timeout(db_, 5000);
  if (auto st = Exec("PRAGMA journal_mode=WAL;"); !st.ok()) return st;
  if (auto st = Exec("PRAGMA synchronous=FULL;"); !st.ok()) return st;
  if (auto st =
          Exec("CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL,"
               "  create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL) WITHOUT ROWID;"
               "CREATE TABLE IF NOT EXISTS history (rev INTEGER NOT NULL, seq INTEGER NOT NULL,"
               "  key BLOB NOT NULL, value BLOB, create_rev INTEGER NOT NULL,"
               "  deleted INTEGER NOT NULL, PRIMARY KEY (rev, seq)) WITHOUT ROWID;"
               "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);");
      !st.ok()) {
    return st;
  }
  auto rev = LoadMeta("revision");
  if (!rev.ok()) return rev.status();
  revision_ = *rev;
  auto compacted = LoadMeta("compacted");
  if (!compacted.ok()) return compacted.status();
  compacted_ = *compacted;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStore::LoadMeta(const char* name) {
  Stmt stmt(db_, stmts_, "SELECT value FROM meta WHERE name = ?1");
  if (auto st = stmt.status(); !st.ok()) return st;
  stmt.BindText(1, name);
  const int rc = stmt.Step();
  if (rc == SQLITE_ROW) return stmt.Int(0);
  if (rc == SQLITE_DONE) return 0;
  return stmt.StepError(rc);
}

absl::StatusOr<std::optional<KeyValue>> SqliteStore::Get(absl::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt stmt(db_, stmts_, "SELECT key, value, create_rev, mod_rev FROM kv WHERE key = ?1");
  if (auto st = stmt.status(); !st.ok()) return st;
  stmt.BindBlob(1, key);
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::optional<KeyValue>();
  if (rc != SQLITE_ROW) return stmt.StepError(rc);
  KeyValue kv;
  if (auto st = ReadKeyValue(stmt, kv); !st.ok()) return st;
  return std::optional<KeyValue>(std::move(kv));
}

absl::StatusOr<RangeResult> SqliteStore::Range(absl::string_view prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string end = PrefixEnd(prefix);
  Stmt stmt(db_, stmts_,
            end.empty()
                ? "SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 ORDER BY key"
                : "SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 AND key < "
                  "?2 ORDER BY key");
  if (auto st = stmt.status(); !st.ok()) return st;
  stmt.BindBlob(1, prefix);
  if (!end.empty()) stmt.BindBlob(2, end);
  RangeResult result;
  result.revision = revision_;
  for (;;) {
    const int rc = stmt.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return stmt.StepError(rc);
    KeyValue kv;
    if (auto st = ReadKeyValue(stmt, kv); !st.ok()) return st;
    result.kvs.push_back(std::move(kv));
  }
  return result;
}

absl::StatusOr<bool> SqliteStore::ComparesHold(const TxnRequest& request) {
  for (const auto& cmp : request.compares) {
    Stmt stmt(db_, stmts_, "SELECT mod_rev, create_rev FROM kv WHERE key = ?1");
    if (auto st = stmt.status(); !st.ok()) return st;
    stmt.BindBlob(1, cmp.key);
    const int rc = stmt.Step();
    int64_t rev = 0;
    if (rc == SQLITE_ROW) {
      rev = stmt.Int(cmp.target == Compare::Target::kCreate ? 1 : 0);
    } else if (rc != SQLITE_DONE) {
      return stmt.StepError(rc);
    }
    if (rev != cmp.mod_revision) return false;
  }
  return true;
}

absl::StatusOr<std::optional<Event>> SqliteStore::WriteOp(const Op& op, int64_t rev, int seq) {
  // Keep create_rev across updates.
  int64_t create_rev = rev;
  bool existed = false;
  {
    Stmt get(db_, stmts_, "SELECT create_rev FROM kv WHERE key = ?1");
    if (auto st = get.status(); !st.ok()) return st;
    get.BindBlob(1, op.key);
    const int rc = get.Step();
    if (rc == SQLITE_ROW) {
      create_rev = get.Int(0);
      existed = true;
    } else if (rc != SQLITE_DONE) {
      return get.StepError(rc);
    }
  }
  const bool is_delete = op.type == Op::Type::kDelete;
  if (is_delete && !existed) return std::nullopt;
  if (!is_delete) {
    Stmt put(db_, stmts_,
             "INSERT INTO kv (key, value, create_rev, mod_rev) VALUES (?1, ?2, ?3, ?4) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev");
    if (auto st = put.status(); !st.ok()) return st;
    put.BindBlob(1, op.key);
    put.BindBlob(2, op.value);
    put.BindInt(3, create_rev);
    put.BindInt(4, rev);
    if (int rc = put.Step(); rc != SQLITE_DONE) return put.StepError(rc);
  } else {
    Stmt del(db_, stmts_, "DELETE FROM kv WHERE key = ?1");
    if (auto st = del.status(); !st.ok()) return st;
    del.BindBlob(1, op.key);
    if (int rc = del.Step(); rc != SQLITE_DONE) return del.StepError(rc);
  }
  Stmt hist(db_, stmts_,
            "INSERT INTO history (rev, seq, key, value, create_rev, deleted) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (auto st = hist.status(); !st.ok()) return st;
  hist.BindInt(1, rev);
  hist.BindInt(2, seq);
  hist.BindBlob(3, op.key);
  hist.BindBlob(4, is_delete ? absl::string_view() : absl::string_view(op.value));
  hist.BindInt(5, create_rev);
  hist.BindInt(6, is_delete ? 1 : 0);
  if (int rc = hist.Step(); rc != SQLITE_DONE) return hist.StepError(rc);
  return Event{is_delete ? Event::Type::kDelete : Event::Type::kPut,
               KeyValue{op.key, is_delete ? std::string() : op.value, create_rev, rev}};
}

absl::StatusOr<std::vector<Event>> SqliteStore::WriteOps(const TxnRequest& request, int64_t rev) {
  std::vector<Event> events;
  events.reserve(request.ops.size());
  if (auto st = Exec("BEGIN IMMEDIATE;"); !st.ok()) return st;
  auto fail = [&](absl::Status st) {
    (void)Exec("ROLLBACK;");
    return st;
  };
  int seq = 0;
  for (const auto& op : request.ops) {
    auto event = WriteOp(op, rev, seq);
    if (!event.ok()) return fail(event.status());
    if (!event->has_value()) continue;
    seq++;
    events.push_back(std::move(**event));
  }
  Stmt meta(db_, stmts_, "INSERT OR REPLACE INTO meta (name, value) VALUES ('revision', ?1)");
  if (auto st = meta.status(); !st.ok()) return fail(st);
  meta.BindInt(1, rev);
  if (int rc = meta.Step(); rc != SQLITE_DONE) return fail(meta.StepError(rc));
  if (auto st = Exec("COMMIT;"); !st.ok()) return fail(st);
  return events;
}

absl::StatusOr<TxnResult> SqliteStore::Txn(const TxnRequest& request) {
  std::unique_lock<std::mutex> lock(mu_);
  // Comparisons first, outside any write transaction: nobody else writes
  // while we hold mu_.
  auto holds = ComparesHold(request);
  if (!holds.ok()) return holds.status();
  if (!*holds) return TxnResult{false, revision_};
  if (request.ops.empty()) return TxnResult{true, revision_};

  const int64_t rev = revision_ + 1;
  auto events = WriteOps(request, rev);
  if (!events.ok()) return events.status();
  revision_ = rev;
  if (rev - compacted_ > options_.history_revisions + options_.history_revisions / 10) {
    if (auto st = Compact(); !st.ok()) {
      spdlog::warn("state store: history compaction failed: {}", st.message());
    }
  }

  std::vector<std::shared_ptr<Watcher>> targets;
  for (const auto& w : watchers_) targets.push_back(w);
  std::unique_lock<std::mutex> notify(notify_mu_);
  lock.unlock();
  Deliver(targets, rev, *events);
  return TxnResult{true, rev};
}

absl::Status SqliteStore::Compact() {
  const int64_t keep_after = revision_ - options_.history_revisions;
  if (keep_after <= compacted_) return absl::OkStatus();
  Stmt del(db_, stmts_, "DELETE FROM history WHERE rev <= ?1");
  if (auto st = del.status(); !st.ok()) return st;
  del.BindInt(1, keep_after);
  if (int rc = del.Step(); rc != SQLITE_DONE) return del.StepError(rc);
  Stmt meta(db_, stmts_, "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted', ?1)");
  if (auto st = meta.status(); !st.ok()) return st;
  meta.BindInt(1, keep_after);
  if (int rc = meta.Step(); rc != SQLITE_DONE) return meta.StepError(rc);
  compacted_ = keep_after;
  return absl::OkStatus();
}

void SqliteStore::Deliver(const std::vector<std::shared_ptr<Watcher>>& watchers, int64_t revision,
                          const std::vector<Event>& events) {
  for (const auto& w : watchers) {
    std::vector<Event> matched;
    for (const auto& e : events) {
      if (absl::StartsWith(e.kv.key, w->prefix)) matched.push_back(e);
    }
    if (!matched.empty()) w->callback(revision, matched);
  }
}

absl::StatusOr<std::unique_ptr<WatchHandle>> SqliteStore::Watch(absl::string_view prefix,
                                                                int64_t after_revision,
                                                                WatchCallback callback,
                                                                ResyncCallback /*resync*/) {
  std::unique_lock<std::mutex> lock(mu_);
  if (after_revision < compacted_) {
    return absl::OutOfRangeError(absl::StrCat("watch from revision ", after_revision + 1,
                                              ": history before revision ", compacted_ + 1,
                                              " was compacted"));
  }
  // Replay kept history after `after_revision`, grouped by revision.
  std::map<int64_t, std::vector<Event>> replay;
  {
    Stmt stmt(db_, stmts_,
              "SELECT rev, key, value, create_rev, deleted FROM history WHERE rev > ?1 "
              "ORDER BY rev, seq");
    if (auto st = stmt.status(); !st.ok()) return st;
    stmt.BindInt(1, after_revision);
    for (;;) {
      const int rc = stmt.Step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return stmt.StepError(rc);
      std::string key = stmt.Text(1);
      if (!absl::StartsWith(key, prefix)) continue;
      const bool deleted = stmt.Int(4) != 0;
      const int64_t rev = stmt.Int(0);
      replay[rev].push_back(Event{
          deleted ? Event::Type::kDelete : Event::Type::kPut,
          KeyValue{std::move(key), deleted ? std::string() : stmt.Text(2), stmt.Int(3), rev}});
    }
  }
  auto watcher = std::make_shared<Watcher>(Watcher{std::string(prefix), std::move(callback)});
  watchers_.push_back(watcher);
  auto handle = std::make_unique<Handle>(this, watcher.get());
  std::unique_lock<std::mutex> notify(notify_mu_);
  lock.unlock();
  for (const auto& [rev, events] : replay) watcher->callback(rev, events);
  return std::unique_ptr<WatchHandle>(std::move(handle));
}

void SqliteStore::Unregister(Watcher* watcher) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    watchers_.remove_if([&](const auto& w) { return w.get() == watcher; });
  }
  // Wait for a delivery in progress to finish.
  std::lock_guard<std::mutex> barrier(notify_mu_);
}

int64_t SqliteStore::Revision() {
  std::lock_guard<std::mutex> lock(mu_);
  return revision_;
}

}  // namespace gantry::store
