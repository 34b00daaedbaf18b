#include "controlplane/store/store_meta.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace gantry::store {
namespace {

absl::Status CheckSchema(const std::optional<KeyValue>& stored, const std::string& where) {
  if (!stored) return absl::OkStatus();
  int64_t version = 0;
  if (!absl::SimpleAtoi(stored->value, &version)) {
    return absl::FailedPreconditionError(absl::StrCat(where, ": ", kSchemaVersionKey, " is \"",
                                                      stored->value, "\", not a schema version"));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, " was written by a newer Gantry (schema version ", version, "; this one knows ",
        kSchemaVersion, "): run the newer gantry-controlplane, or restore a snapshot"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ClaimStore(Store* store, const std::string& cluster_id, const std::string& where) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto id = store->Get(kClusterIdKey);
    if (!id.ok()) return id.status();
    auto schema = store->Get(kSchemaVersionKey);
    if (!schema.ok()) return schema.status();
    if (auto st = CheckSchema(*schema, where); !st.ok()) return st;
    auto restoring = store->Get("/meta/restore-in-progress");
    if (!restoring.ok()) return restoring.status();
    if (restoring->has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat(where,
                       " was restored only in part (the restore was interrupted): empty it and run "
                       "gantry-controlplane restore again"));
    }
    if (*id && (*id)->value != cluster_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          where, " belongs to cluster ", (*id)->value, ", not to this control plane's cluster ",
          cluster_id,
          ": start every replica with --pki-dir pointing to a copy of the first one's pki "
          "directory, or use a store of its own"));
    }
    const bool schema_current = *schema && (*schema)->value == std::to_string(kSchemaVersion);
    if (*id && schema_current) return absl::OkStatus();
    TxnRequest claim;
    claim.compares.push_back({kClusterIdKey, *id ? (*id)->mod_revision : 0});
    claim.compares.push_back({kSchemaVersionKey, *schema ? (*schema)->mod_revision : 0});
    claim.ops.push_back(Op::Put(kClusterIdKey, cluster_id));
    claim.ops.push_back(Op::Put(kSchemaVersionKey, std::to_string(kSchemaVersion)));
    auto done = store->Txn(claim);
    if (!done.ok()) return done.status();
    if (done->succeeded) return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat(where, ": the store's metadata kept changing; retry"));
}

}  // namespace gantry::store
