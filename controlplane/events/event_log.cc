#include "controlplane/events/event_log.h"

#include <algorithm>

#include "common/log.h"
#include "common/time_util.h"
#include "controlplane/state/keys.h"

namespace gantry::events {

EventLog::EventLog(store::Store* store, const Clock* clock, Options options)
    : store_(store), clock_(clock), options_(options) {}

absl::Status EventLog::Start() {
  auto range = store_->Range(state::kEventPrefix);
  if (!range.ok()) return range.status();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& kv : range->kvs) {
    gantry::v1::Event e;
    if (!e.ParseFromString(kv.value)) continue;
    next_id_ = std::max(next_id_, e.id() + 1);
    events_.push_back(std::move(e));
  }
  return absl::OkStatus();
}

void EventLog::Record(const std::string& service, const std::string& task, const std::string& node,
                      const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  gantry::v1::Event e;
  e.set_id(next_id_++);
  *e.mutable_time() = ToProtoTime(clock_->Now());
  e.set_service(service);
  e.set_task(task);
  e.set_node(node);
  e.set_message(message);
  spdlog::info("event{}{}: {}", service.empty() ? "" : " service=" + service,
               task.empty() ? "" : " task=" + task.substr(0, 8), message);

  store::TxnRequest txn;
  txn.ops.push_back(store::Op::Put(state::EventKey(e.id()), e.SerializeAsString()));
  events_.push_back(e);
  // Prune: the oldest of this service beyond its limit, then the oldest
  // overall beyond the total limit.
  size_t same = 0;
  for (const auto& ev : events_) same += ev.service() == service ? 1 : 0;
  for (auto it = events_.begin(); same > options_.per_service_limit && it != events_.end();) {
    if (it->service() == service) {
      txn.ops.push_back(store::Op::Delete(state::EventKey(it->id())));
      it = events_.erase(it);
      same--;
    } else {
      ++it;
    }
  }
  while (events_.size() > options_.total_limit) {
    txn.ops.push_back(store::Op::Delete(state::EventKey(events_.front().id())));
    events_.pop_front();
  }
  if (auto result = store_->Txn(txn); !result.ok()) {
    spdlog::warn("could not store event \"{}\": {}", message, result.status().message());
  }
}

std::vector<gantry::v1::Event> EventLog::List(const std::string& service, size_t limit,
                                              int64_t after_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<gantry::v1::Event> out;
  for (auto it = events_.rbegin(); it != events_.rend() && (after_id > 0 || out.size() < limit);
       ++it) {
    if (after_id > 0 && it->id() <= after_id) break;
    if (service.empty() || it->service() == service) out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace gantry::events
