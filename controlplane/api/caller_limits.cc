#include "controlplane/api/caller_limits.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gantry::api {
namespace {

constexpr size_t kPruneAbove = 10000;

}  // namespace

CallerLimits::CallerLimits(const Clock* clock, Options options)
    : clock_(clock), options_(options) {}

std::string CallerLimits::KeyOf(const identity::Identity& who) {
  // A token by its accessor (descriptions may repeat), else by name.
  return absl::StrCat(static_cast<int>(who.kind), ":",
                      who.accessor.empty() ? who.name : who.accessor);
}

absl::Status CallerLimits::Admit(const identity::Identity& who) {
  if (options_.requests_per_second <= 0) return absl::OkStatus();
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  auto [it, fresh] = buckets_.try_emplace(KeyOf(who));
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = options_.burst;
  } else {
    const double refill = absl::ToDoubleSeconds(std::max(absl::ZeroDuration(), now - b.updated)) *
                          options_.requests_per_second;
    b.tokens = std::min<double>(options_.burst, b.tokens + refill);
  }
  b.updated = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    if (fresh && buckets_.size() > kPruneAbove) Prune(now);
    return absl::OkStatus();
  }
  const double wait = (1 - b.tokens) / options_.requests_per_second;
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s made more than %g requests a second (burst %d), the control plane's limit per caller "
      "(--api-rate-limit); retry in %.1fs",
      who.Describe(), options_.requests_per_second, options_.burst, std::max(0.1, wait)));
}

void CallerLimits::Prune(absl::Time now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double refill =
        absl::ToDoubleSeconds(now - it->second.updated) * options_.requests_per_second;
    if (it->second.tokens + refill >= options_.burst) {
      buckets_.erase(it++);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<CallerLimits::StreamSlot> CallerLimits::OpenStream(const identity::Identity& who) {
  if (options_.streams <= 0) return StreamSlot(nullptr);
  std::string key = KeyOf(who);
  {
    MutexLock lock(&mu_);
    int& open = streams_[key];
    if (open >= options_.streams) {
      return absl::ResourceExhaustedError(
          absl::StrCat(who.Describe(), " already holds ", open,
                       " streams (logs, snapshots), the control plane's limit per caller "
                       "(--api-streams-per-caller); end one first"));
    }
    ++open;
  }
  // The slot's deleter gives the stream back; the limits outlive every call.
  return StreamSlot(static_cast<void*>(this), [this, key](void*) { Release(key); });
}

void CallerLimits::Release(const std::string& key) {
  MutexLock lock(&mu_);
  auto it = streams_.find(key);
  if (it == streams_.end()) return;
  if (--it->second <= 0) streams_.erase(it);
}

}  // namespace gantry::api
