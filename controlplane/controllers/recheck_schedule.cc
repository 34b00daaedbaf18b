#include "controlplane/controllers/recheck_schedule.h"

#include <algorithm>

namespace gantry::controllers {

void RecheckSchedule::At(const std::string& service, absl::Time when) {
  {
    MutexLock lock(&mu_);
    auto [it, inserted] = when_.emplace(service, when);
    if (!inserted) it->second = std::min(it->second, when);
  }
  if (on_at_) on_at_(when);
}

std::set<std::string> RecheckSchedule::TakeDue(absl::Time now) {
  std::set<std::string> due;
  MutexLock lock(&mu_);
  for (auto it = when_.begin(); it != when_.end();) {
    if (it->second <= now) {
      due.insert(it->first);
      it = when_.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

std::optional<absl::Time> RecheckSchedule::Earliest() const {
  MutexLock lock(&mu_);
  std::optional<absl::Time> earliest;
  for (const auto& [service, when] : when_) {
    if (!earliest || when < *earliest) earliest = when;
  }
  return earliest;
}

std::optional<absl::Time> RecheckSchedule::When(const std::string& service) const {
  MutexLock lock(&mu_);
  auto it = when_.find(service);
  if (it == when_.end()) return std::nullopt;
  return it->second;
}

}  // namespace gantry::controllers
