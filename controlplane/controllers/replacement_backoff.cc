#include "controlplane/controllers/replacement_backoff.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace gantry::controllers {

using gantry::v1::Task;

ReplacementBackoff::Backoff ReplacementBackoff::Compute(const gantry::v1::Deployment& deployment,
                                                        const std::vector<Task>& tasks,
                                                        absl::Time now) const {
  Backoff b;
  absl::Time latest = absl::InfinitePast();
  const Task* last = nullptr;
  for (const auto& t : tasks) {
    if (!t.failed() || t.deployment_id() != deployment.id()) continue;
    const absl::Time stopped = FromProtoTime(t.stopped_at());
    if (stopped < now - options_.window) continue;
    b.failures++;
    if (stopped > latest) {
      latest = stopped;
      last = &t;
    }
  }
  if (b.failures == 0) return b;
  const absl::Duration delay =
      std::min(options_.max, options_.base * (int64_t{1} << std::min(b.failures - 1, 30)));
  b.until = latest + delay;
  b.task = last->id();
  b.node = last->node();
  b.reason = last->stopped_reason();
  return b;
}

void ReplacementBackoff::Announce(const gantry::v1::Service& service, const Backoff& backoff,
                                  absl::Time now) {
  {
    MutexLock lock(&mu_);
    if (backoff.failures == 0) {
      announced_.erase(service.name());
      return;
    }
    if (backoff.until <= now || announced_[service.name()] == backoff.failures) return;
    announced_[service.name()] = backoff.failures;
  }
  events_->Record(
      service.name(), backoff.task, backoff.node,
      absl::StrCat(backoff.failures, " task(s) of ", service.resolved_task_definition(),
                   " failed in the last ", absl::FormatDuration(options_.window),
                   " (latest: ", backoff.reason, "); next replacement in ",
                   absl::FormatDuration(absl::Ceil(backoff.until - now, absl::Seconds(1)))));
}

absl::Time ReplacementBackoff::Until(const gantry::v1::Service& service,
                                     const gantry::v1::Deployment& deployment,
                                     const std::vector<Task>& tasks) {
  const absl::Time now = clock_->Now();
  const Backoff b = Compute(deployment, tasks, now);
  Announce(service, b, now);
  return b.until;
}

}  // namespace gantry::controllers
