#pragma once

// The Store on etcd v3, for control planes that share one replicated store
// (--store etcd://...). It keeps the Store contract (store.h) on a remote,
// asynchronous store:
//
//  - revisions are etcd's own (a fresh etcd is at revision 1, not 0);
//  - a transaction is one etcd Txn: comparisons on mod_revision (0 meaning
//    absent, which etcd compares as 0 too), several ops on one key folded
//    into the last (etcd refuses duplicates), and etcd's limits (128 ops,
//    1.5 MiB by default) checked first, so a transaction too big is refused
//    whole rather than split;
//  - Txn returns only once this object's watches that cover a key it
//    changed have delivered its revision: a process reads its own writes
//    from its watched caches, as with SqliteStore;
//  - a watch is a gRPC stream that reconnects (to the next member if need
//    be) and resumes after the last revision it delivered; if etcd
//    compacted that history meanwhile, the watch re-lists and hands the
//    listing to its ResyncCallback.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controlplane/store/etcd_client.h"
#include "controlplane/store/store.h"

namespace gantry::store {

class EtcdWatch;

class EtcdStore final : public Store {
 public:
  struct Options {
    EtcdOptions etcd;
    // etcd's --max-txn-ops and --max-request-bytes (the defaults below are
    // etcd's); set them when the etcd cluster is configured otherwise.
    TxnLimits limits{128, 1536 * 1024 - 4096};  // room for the request's framing
    // How long Txn waits for this object's watches to see its write.
    absl::Duration watch_catch_up = absl::Seconds(10);
  };

  // Connects and reads the current revision; the error says which member
  // could not be reached and what to check.
  static absl::StatusOr<std::unique_ptr<EtcdStore>> Open(const Options& options);
  ~EtcdStore() override;

  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key) override;
  absl::StatusOr<RangeResult> Range(absl::string_view prefix) override;
  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override;
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(absl::string_view prefix,
                                                     int64_t after_revision, WatchCallback callback,
                                                     ResyncCallback resync = nullptr) override;
  int64_t Revision() override { return revision_.load(); }
  TxnLimits Limits() const override { return options_.limits; }

  // Drops history up to `revision` (etcd's Compact, physical): watches from
  // before it then get OutOfRange.
  absl::Status Compact(int64_t revision);

  EtcdClient& client() { return *client_; }
  // Every response's header moves the known revision forward.
  void SawRevision(int64_t revision);

 private:
  friend class EtcdWatch;
  class Handle;

  EtcdStore(Options options, std::unique_ptr<EtcdClient> client);
  // Range over [key, range_end) at `revision` (0: now), page by page.
  absl::StatusOr<RangeResult> RangeAll(const std::string& key, const std::string& range_end,
                                       int64_t revision);
  // Blocks until every watch covering one of `keys` delivered `revision`.
  void AwaitWatches(const std::set<std::string>& keys, int64_t revision);
  void Unregister(EtcdWatch* watch);
  // Called by a watch after delivering a revision.
  void Delivered();

  const Options options_;
  std::unique_ptr<EtcdClient> client_;
  std::atomic<int64_t> revision_{0};

  std::mutex mu_;
  std::condition_variable delivered_;
  std::set<std::shared_ptr<EtcdWatch>> watches_;
};

}  // namespace gantry::store
