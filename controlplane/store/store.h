#pragma once

// The control plane's state store, shaped like etcd's key-value API so that an
// etcd backend can replace the embedded one without touching callers:
//
//  - every write transaction creates one new store revision, and each key
//    remembers the revision that created it and the one that last changed it;
//  - a transaction applies its operations only if all its comparisons hold
//    (compare-and-swap on a key's mod_revision, 0 meaning "absent");
//  - a watch delivers, in revision order, every change under a prefix after a
//    given revision: first the history the store still keeps, then live
//    changes as they commit.
//
// An acknowledged transaction is durable: it survives the process being
// killed (kill -9) the moment Txn returns.
//
// Read-your-writes: when Txn returns, every watch of this store object
// whose prefix covers a key the transaction changed has delivered it.
//
// Thread safety: every method may be called from any thread. Watch callbacks
// run one at a time per watch, in revision order: SqliteStore runs them on
// the thread that committed the change (or on the thread that called Watch,
// for replayed history); EtcdStore on the watch's own thread. A callback may
// read from the store but must not write to it, and must not destroy its
// own WatchHandle.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

// Holds when the key's mod_revision (or, with kCreate, its create_revision)
// equals `mod_revision`; 0 means the key must not exist. kCreate is how a
// leader fences its writes: its leader key keeps the create_revision it had
// when it was won, however often its lease is renewed.
struct Compare {
  enum class Target { kMod, kCreate };
  std::string key;
  int64_t mod_revision = 0;
  Target target = Target::kMod;
};

struct Op {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  std::string key;
  std::string value;

  static Op Put(std::string key, std::string value) {
    return Op{Type::kPut, std::move(key), std::move(value)};
  }
  static Op Delete(std::string key) { return Op{Type::kDelete, std::move(key), {}}; }
};

struct TxnRequest {
  std::vector<Compare> compares;
  std::vector<Op> ops;
};

struct TxnResult {
  // False when a comparison failed; nothing was written then.
  bool succeeded = false;
  // The revision the transaction created, or the current one if it failed.
  int64_t revision = 0;
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // For deletes, value is empty and mod_revision is the deleting revision.
  KeyValue kv;
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // sorted by key
  int64_t revision = 0;       // the store revision the range was read at
};

using WatchCallback = std::function<void(int64_t revision, const std::vector<Event>& events)>;

// For a watch that lost history it cannot replay (the store compacted it
// while the watch was reconnecting to a remote store): `snapshot` is every
// key under the prefix now; the watcher replaces its whole view with it, as
// a Kubernetes informer re-lists, and the watch goes on from its revision.
using ResyncCallback = std::function<void(const RangeResult& snapshot)>;

// What one transaction may hold; a larger one is refused (InvalidArgument)
// and writes nothing. etcd's defaults are 128 operations and 1.5 MiB.
struct TxnLimits {
  size_t max_ops = SIZE_MAX;
  size_t max_bytes = SIZE_MAX;  // keys and values of all ops together
};

// Cancels its watch when destroyed; no callback runs after the destructor
// returns.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key) = 0;
  // All keys starting with `prefix`.
  virtual absl::StatusOr<RangeResult> Range(absl::string_view prefix) = 0;
  virtual absl::StatusOr<TxnResult> Txn(const TxnRequest& request) = 0;
  // OutOfRange if revisions after `after_revision` were already compacted
  // away; the caller then re-reads with Range and watches from its revision.
  //
  // `resync` may be empty for a store whose watches never lose history
  // (SqliteStore's run in-process); a remote store then ends the watch with
  // an error in its log.
  virtual absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(absl::string_view prefix,
                                                             int64_t after_revision,
                                                             WatchCallback callback,
                                                             ResyncCallback resync = nullptr) = 0;
  // The newest revision this store object knows of.
  virtual int64_t Revision() = 0;
  virtual TxnLimits Limits() const { return {}; }
};

}  // namespace gantry::store
