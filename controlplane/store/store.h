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
// Thread safety: every method may be called from any thread. Watch callbacks
// run one at a time, in revision order, on the thread that committed the
// change (or on the thread that called Watch, for replayed history). A
// callback may read from the store but must not write to it, and must not
// destroy its own WatchHandle.

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

// Holds when the key's mod_revision equals `mod_revision`; 0 means the key
// must not exist.
struct Compare {
  std::string key;
  int64_t mod_revision = 0;
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
  virtual absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(absl::string_view prefix,
                                                             int64_t after_revision,
                                                             WatchCallback callback) = 0;
  virtual int64_t Revision() = 0;
};

}  // namespace gantry::store
