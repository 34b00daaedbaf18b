#pragma once

// Crash-loop backoff for replacing failed tasks. After n tasks of a
// deployment failed within the window, the next replacement waits
// base * 2^(n-1) (at most max) from the latest failure. Each new count of
// failures that holds replacements back is announced once as a service
// event, with the latest task's reason and the time left.
//
// Compute() only reads; Announce() and Until() record. Thread-safe.

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "controlplane/events/event_log.h"
#include "gantry/v1/types.pb.h"

namespace gantry::controllers {

class ReplacementBackoff {
 public:
  struct Options {
    absl::Duration window = absl::Minutes(10);
    absl::Duration base = absl::Seconds(1);
    absl::Duration max = absl::Minutes(5);
  };

  // The backoff of one deployment at one time.
  struct Backoff {
    int failures = 0;  // within the window
    // Replacements may start from then on; the infinite past without
    // failures.
    absl::Time until = absl::InfinitePast();
    // The latest failed task.
    std::string task;
    std::string node;
    std::string reason;
  };

  ReplacementBackoff(events::EventLog* events, const Clock* clock, Options options)
      : events_(events), clock_(clock), options_(options) {}
  ReplacementBackoff(const ReplacementBackoff&) = delete;
  ReplacementBackoff& operator=(const ReplacementBackoff&) = delete;

  // The backoff `tasks` (the service's, stopped ones included) put on
  // replacements of `deployment`'s tasks at `now`.
  Backoff Compute(const gantry::v1::Deployment& deployment,
                  const std::vector<gantry::v1::Task>& tasks, absl::Time now) const;
  // Records an event when `backoff` holds replacements back at `now` and its
  // failure count was not announced for the service yet; without failures
  // the service's announcement is forgotten.
  void Announce(const gantry::v1::Service& service, const Backoff& backoff, absl::Time now);
  // Compute() and Announce() at the clock's now; returns when replacements
  // may start (now or earlier: no backoff applies).
  absl::Time Until(const gantry::v1::Service& service, const gantry::v1::Deployment& deployment,
                   const std::vector<gantry::v1::Task>& tasks);

 private:
  events::EventLog* const events_;
  const Clock* const clock_;
  const Options options_;
  Mutex mu_;
  // Failure count last announced per service.
  std::map<std::string, int> announced_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gantry::controllers
