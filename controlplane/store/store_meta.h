#pragma once

// What a store says about itself, checked before a control plane uses it:
// which cluster it belongs to (so a replica started with another cluster's
// PKI, or pointed at the wrong etcd, refuses it) and the schema version that
// wrote it (so an older control plane never reads a newer layout).

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "controlplane/store/store.h"

namespace gantry::store {

inline constexpr char kClusterIdKey[] = "/meta/cluster-id";
inline constexpr char kSchemaVersionKey[] = "/meta/schema-version";
// Bumped whenever keys or values change in a way older versions misread.
inline constexpr int64_t kSchemaVersion = 1;

// Claims an empty store for `cluster_id` at this schema version, or checks
// that a used one is this cluster's and not newer. `where` names the store
// in errors (its path or etcd URL).
absl::Status ClaimStore(Store* store, const std::string& cluster_id, const std::string& where);

}  // namespace gantry::store
