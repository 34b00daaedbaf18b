#pragma once

// Records why a service cannot make progress (a placement that fails, an
// image that cannot be pinned, zone rebalancing that has to wait) as a
// service event, but the same message for the same service at most once per
// `interval`: a controller pass repeats every few seconds, the events
// should not. Forget() clears a service's last message once it has made
// progress, so the next failure is recorded at once.
//
// Thread-safe.

#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "controlplane/events/event_log.h"

namespace gantry::controllers {

class FailureRecorder {
 public:
  FailureRecorder(events::EventLog* events, const Clock* clock, absl::Duration interval)
      : events_(events), clock_(clock), interval_(interval) {}
  FailureRecorder(const FailureRecorder&) = delete;
  FailureRecorder& operator=(const FailureRecorder&) = delete;

  // Records `message` unless it is the service's last one and was recorded
  // less than `interval` ago.
  void Record(const std::string& service, const std::string& message);
  void Forget(const std::string& service);

 private:
  events::EventLog* const events_;
  const Clock* const clock_;
  const absl::Duration interval_;
  Mutex mu_;
  // Per service: the last message and when it was recorded.
  std::map<std::string, std::pair<std::string, absl::Time>> last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gantry::controllers
