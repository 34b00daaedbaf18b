#pragma once

// Per-caller limits on the operator API, so one client (a runaway script, a
// stolen token) cannot starve the others or the agents' streams: a token
// bucket of requests per identity (`requests_per_second`, refilling up to
// `burst`), and a bound on the streams (logs, snapshots) one identity holds
// open at once. Callers are told what happened and when to retry
// (ResourceExhausted). Checked after authentication, before authorization,
// so only an identity's own calls count against it.
//
// Thread-safe. Time comes from the injected clock.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "controlplane/identity/identity.h"

namespace gantry::api {

class CallerLimits {
 public:
  struct Options {
    double requests_per_second = 100;  // 0: no request limit
    int burst = 200;
    int streams = 16;  // 0: no stream limit
  };

  CallerLimits(const Clock* clock, Options options);

  // OK, or ResourceExhausted when `who` has no request left in its bucket.
  absl::Status Admit(const identity::Identity& who);

  // Holds one of `who`'s streams until the slot is released (destroyed);
  // ResourceExhausted when it holds `streams` already.
  using StreamSlot = std::shared_ptr<void>;
  absl::StatusOr<StreamSlot> OpenStream(const identity::Identity& who);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  static std::string KeyOf(const identity::Identity& who);
  void Release(const std::string& key);
  // Forgets full buckets once many callers were seen.
  void Prune(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const Options options_;
  Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gantry::api
