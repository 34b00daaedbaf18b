#include "controlplane/store/snapshot.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "controlplane/store/store_meta.h"
#include "controlplane/store/txn_batches.h"

namespace gantry::store {
namespace {

// Keys that describe running processes, not the cluster.
bool Ephemeral(absl::string_view key) {
  return key == "/meta/leader" || absl::StartsWith(key, "/meta/replicas/");
}

}  // namespace

absl::StatusOr<gantry::v1::StoreSnapshot> TakeSnapshot(Store* store, const Clock* clock) {
  auto all = store->Range("");
  if (!all.ok()) return all.status();
  gantry::v1::StoreSnapshot out;
  out.set_format(kSnapshotFormat);
  out.set_revision(all->revision);
  *out.mutable_taken_at() = ToProtoTime(clock->Now());
  for (auto& kv : all->kvs) {
    if (Ephemeral(kv.key)) continue;
    if (kv.key == kRestoringKey) {
      return absl::FailedPreconditionError(
          "the store was restored only in part; restore it again before taking a snapshot");
    }
    if (kv.key == kClusterIdKey) out.set_cluster_id(kv.value);
    if (kv.key == kSchemaVersionKey) {
      int64_t v = 0;
      if (absl::SimpleAtoi(kv.value, &v)) out.set_schema_version(v);
    }
    auto* e = out.add_entries();
    e->set_key(std::move(kv.key));
    e->set_value(std::move(kv.value));
  }
  if (out.cluster_id().empty()) {
    return absl::FailedPreconditionError("the store belongs to no cluster yet: nothing to save");
  }
  return out;
}

absl::Status RestoreSnapshot(const gantry::v1::StoreSnapshot& snapshot, Store* target,
                             const std::string& where) {
  if (snapshot.format() != kSnapshotFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("the snapshot is in format ", snapshot.format(), "; this Gantry reads format ",
                     kSnapshotFormat, ": restore it with the Gantry version that saved it"));
  }
  if (snapshot.schema_version() > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the snapshot was saved by a newer Gantry (schema version ",
                     snapshot.schema_version(), "): restore it with that version"));
  }
  auto existing = target->Range("");
  if (!existing.ok()) return existing.status();
  for (const auto& kv : existing->kvs) {
    if (Ephemeral(kv.key)) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        where, " is not empty (it holds ", kv.key,
        "): restore into a new --data-dir or an empty etcd, never over a cluster's state"));
  }
  TxnRequest mark;
  mark.compares.push_back({kRestoringKey, 0});
  mark.ops.push_back(Op::Put(kRestoringKey, absl::StrCat(snapshot.revision())));
  auto marked = target->Txn(mark);
  if (!marked.ok()) return marked.status();
  if (!marked->succeeded) {
    return absl::AbortedError(absl::StrCat(where, ": another restore is writing; wait for it"));
  }
  // In batches the store accepts; the marker makes the whole all or nothing
  // for control planes (ClaimStore refuses a store that has it).
  TxnRequest entries;
  for (const auto& e : snapshot.entries()) entries.ops.push_back(Op::Put(e.key(), e.value()));
  auto written = CommitInBatches(target, entries);
  if (!written.ok()) return written.status();
  TxnRequest done;
  done.ops.push_back(Op::Delete(kRestoringKey));
  auto finished = target->Txn(done);
  return finished.ok() ? absl::OkStatus() : finished.status();
}

}  // namespace gantry::store
