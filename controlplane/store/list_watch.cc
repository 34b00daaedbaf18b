#include "controlplane/store/list_watch.h"

namespace gantry::store {

absl::StatusOr<std::unique_ptr<WatchHandle>> ListAndWatch(
    Store* store, absl::string_view prefix, std::function<void(const std::vector<Event>&)> apply) {
  auto range = store->Range(prefix);
  if (!range.ok()) return range.status();
  std::vector<Event> events;
  events.reserve(range->kvs.size());
  for (auto& kv : range->kvs) events.push_back({Event::Type::kPut, std::move(kv)});
  apply(events);
  return store->Watch(prefix, range->revision,
                      [apply](int64_t, const std::vector<Event>& changes) { apply(changes); });
}

}  // namespace gantry::store
