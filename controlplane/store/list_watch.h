#pragma once

// A watched cache's start: everything under a prefix, then every change
// after it, with no gap between the two (the watch starts at the listing's
// revision). `apply` sees the listing once as puts, before ListAndWatch
// returns, then each batch of changes on the store's watch thread; it does
// its own locking.

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controlplane/store/store.h"

namespace gantry::store {

absl::StatusOr<std::unique_ptr<WatchHandle>> ListAndWatch(
    Store* store, absl::string_view prefix, std::function<void(const std::vector<Event>&)> apply);

}  // namespace gantry::store
