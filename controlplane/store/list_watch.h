#pragma once

// A watched cache's start: everything under a prefix, then every change
// after it, with no gap between the two (the watch starts at the listing's
// revision). `apply` sees the listing once as puts, before ListAndWatch
// returns, then each batch of changes on the store's watch thread; it does
// its own locking. When a remote store's watch lost history it cannot
// replay, `apply` gets a fresh listing with `replace_all` set: the cache
// drops what it held and takes the listing instead.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controlplane/store/store.h"

namespace gantry::store {

using CacheApply = std::function<void(const std::vector<Event>& events, bool replace_all)>;

absl::StatusOr<std::unique_ptr<WatchHandle>> ListAndWatch(Store* store, absl::string_view prefix,
                                                          CacheApply apply);

// A listing as put events.
std::vector<Event> AsPuts(std::vector<KeyValue> kvs);

// ListAndWatch for a cache of records named by the rest of their key
// (PREFIX + NAME), as the role and secret registries keep them: under
// `mu`, `clear()` when the cache must start over, then `apply(name, event)`
// for each event under the prefix, in order.
using NamedApply = std::function<void(const std::string& name, const Event& event)>;
absl::StatusOr<std::unique_ptr<WatchHandle>> WatchNamed(Store* store, const std::string& prefix,
                                                        std::mutex& mu, std::function<void()> clear,
                                                        NamedApply apply);

}  // namespace gantry::store
