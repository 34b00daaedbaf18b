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

absl::StatusOr<std::unique_ptr<WatchHandle>> WatchNamed(Store* store, const std::string& prefix,
                                                        std::mutex& mu, std::function<void()> clear,
                                                        NamedApply apply) {
  return ListAndWatch(
      store, prefix,
      [&mu, prefix, clear = std::move(clear), apply = std::move(apply)](
          const std::vector<Event>& events, bool replace_all) {
        std::lock_guard<std::mutex> lock(mu);
        if (replace_all) clear();
        for (const auto& e : events) {
          if (e.kv.key.size() <= prefix.size() || e.kv.key.compare(0, prefix.size(), prefix) != 0) {
            continue;
          }
          apply(e.kv.key.substr(prefix.size()), e);
        }
      });
}

}  // namespace gantry::store
