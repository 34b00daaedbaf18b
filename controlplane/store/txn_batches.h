#pragma once

// Independent writes in as many transactions as a store's limits need
// (etcd: 128 operations, 1.5 MiB each), in order. Each op takes along the
// comparisons on its own key (with the key's first op), so every batch is
// as safe as the whole would have been for the ops it holds; the writes as
// a whole are not atomic. Used for batches of new tasks, deletions of
// stopped ones and snapshot restores.

#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/store/store.h"

namespace gantry::store {

// Pure: the request cut to `limits`, ops and their comparisons in order.
std::vector<TxnRequest> SplitToLimits(const TxnRequest& request, const TxnLimits& limits);

// Commits SplitToLimits(request, store->Limits()) in order. Succeeded only
// if every batch did; an error or a lost comparison ends it.
absl::StatusOr<TxnResult> CommitInBatches(Store* store, const TxnRequest& request);

}  // namespace gantry::store
