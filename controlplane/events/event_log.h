#pragma once

// Service, task and node events for `gantryctl describe` and `events`: task
// started, stopped and why, placement failures, nodes coming and going.
// Events are stored durably and pruned: at most `per_service_limit` per
// service and `total_limit` overall, oldest first.
//
// Thread-safe. Record() never fails the caller: a store error is logged.

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "controlplane/store/store.h"
#include "gantry/v1/types.pb.h"

namespace gantry::events {

class EventLog {
 public:
  struct Options {
    size_t per_service_limit = 200;
    size_t total_limit = 10000;
  };

  EventLog(store::Store* store, const Clock* clock, Options options);
  EventLog(store::Store* store, const Clock* clock) : EventLog(store, clock, Options()) {}

  absl::Status Start();

  void Record(const std::string& service, const std::string& task, const std::string& node,
              const std::string& message);
  // The newest `limit` events of `service` (all services when empty), oldest
  // first.
  // The newest `limit` events (of `service`, or all), oldest first; with
  // `after_id`, every retained event newer than it instead.
  std::vector<gantry::v1::Event> List(const std::string& service, size_t limit,
                                      int64_t after_id = 0) const;

 private:
  store::Store* const store_;
  const Clock* const clock_;
  const Options options_;

  mutable std::mutex mu_;
  std::deque<gantry::v1::Event> events_;  // by id
  int64_t next_id_ = 1;
};

}  // namespace gantry::events
