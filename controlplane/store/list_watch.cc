#include "controlplane/store/list_watch.h"

namespace gantry::store {

std::vector<Event> AsPuts(std::vector<KeyValue> kvs) {
  std::vector<Event> events;
  events.reserve(kvs.size());
  for (auto& kv : kvs) events.push_back({Event::Type::kPut, std::move(kv)});
  return events;
}

absl::StatusOr<std::unique_ptr<WatchHandle>> ListAndWatch(Store* store, absl::string_view prefix,
                                                          CacheApply apply) {
  auto range = store->Range(prefix);
  if (!range.ok()) return range.status();
  apply(AsPuts(std::move(range->kvs)), /*replace_all=*/true);
  return store->Watch(
      prefix, range->revision,
      [apply](int64_t, const std::vector<Event>& changes) { apply(changes, false); },
      [apply](const RangeResult& snapshot) { apply(AsPuts(snapshot.kvs), true); });
}

}  // namespace gantry::store
