#pragma once

// Backups of the whole store, independent of the backend: a snapshot is
// every key at one revision (SqliteStore reads in one transaction; EtcdStore
// pages at one revision), so it restores into either, and `migrate` moves
// a single control plane's SQLite store into etcd with the same cluster ID.
//
// What is not in it: the leader key and the replicas' records (they belong
// to running processes), and the cluster's PKI (D/pki), which is backed up
// as files and must come with the snapshot for the restored store to be
// usable (a store belongs to the cluster its PKI names).

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/store/store.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::store {

inline constexpr int kSnapshotFormat = 1;
// Written first by a restore and removed last: a store that still has it
// was restored only in part, and a control plane refuses it.
inline constexpr char kRestoringKey[] = "/meta/restore-in-progress";

absl::StatusOr<gantry::v1::StoreSnapshot> TakeSnapshot(Store* store, const Clock* clock);

// Writes `snapshot` into `target`, which must hold nothing but what a
// control plane writes about itself (/meta/leader, /meta/replicas/): a
// restore never mixes two states. `where` names the target in errors.
absl::Status RestoreSnapshot(const gantry::v1::StoreSnapshot& snapshot, Store* target,
                             const std::string& where);

}  // namespace gantry::store
