#include "controlplane/controllers/failure_recorder.h"

namespace gantry::controllers {

void FailureRecorder::Record(const std::string& service, const std::string& message) {
  const absl::Time now = clock_->Now();
  {
    MutexLock lock(&mu_);
    auto it = last_.find(service);
    if (it != last_.end() && it->second.first == message && now - it->second.second < interval_) {
      return;
    }
    last_[service] = {message, now};
  }
  events_->Record(service, "", "", message);
}

void FailureRecorder::Forget(const std::string& service) {
  MutexLock lock(&mu_);
  last_.erase(service);
}

}  // namespace gantry::controllers
