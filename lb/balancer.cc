#include "lb/balancer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/status_util.h"

namespace gantry::lb {

Balancer::Balancer(HaproxyControl* haproxy, EndpointsSource* endpoints, const Clock* clock,
                   Options options)
    : haproxy_(haproxy), endpoints_(endpoints), clock_(clock), options_(std::move(options)) {}

absl::Status Balancer::Sync(const gantry::v1::ListEndpointsResponse& endpoints) {
  std::vector<std::string> refused;
  Layout next = LayoutOf(endpoints, &refused);
  ReportRefused(std::move(refused));
  std::vector<std::string> commands;
  if (!started_ || NeedsReload(current_, next, commands)) return Reload(std::move(next));
  RETURN_IF_ERROR(SetWeights(commands));
  current_ = std::move(next);
  return absl::OkStatus();
}

void Balancer::ReportRefused(std::vector<std::string> refused) {
  std::sort(refused.begin(), refused.end());
  for (const auto& line : refused) {
    if (!std::binary_search(last_refused_.begin(), last_refused_.end(), line)) {
      spdlog::warn("endpoints: {}", line);
    }
  }
  last_refused_ = std::move(refused);
}

absl::Status Balancer::Reload(Layout next) {
  RETURN_IF_ERROR(haproxy_->Apply(Render(next, options_.settings)));
  if (started_) {
    spdlog::info("haproxy reloaded: {} listener(s)", next.size());
  } else {
    spdlog::info("haproxy started (pid {}): {} listener(s)", haproxy_->pid(), next.size());
  }
  started_ = true;
  current_ = std::move(next);
  return absl::OkStatus();
}

absl::Status Balancer::SetWeights(const std::vector<std::string>& commands) {
  for (const auto& c : commands) {
    if (absl::Status st = haproxy_->Command(c); !st.ok()) {
      return absl::Status(st.code(), absl::StrCat("haproxy: ", c, ": ", st.message()));
    }
    spdlog::info("haproxy: {}", c);
  }
  return absl::OkStatus();
}

absl::Status Balancer::Poll() {
  auto endpoints = endpoints_->List();
  absl::Status result = endpoints.ok() ? Sync(*endpoints) : endpoints.status();
  if (result.ok()) {
    last_error_.clear();
    return result;
  }
  std::string error(result.message());
  if (error != last_error_) {
    spdlog::warn("{} (haproxy keeps its last configuration)", error);
    last_error_ = std::move(error);
  }
  return result;
}

void Balancer::Run() {
  bool stopped = false;
  {
    MutexLock lock(&mu_);
    stopped = stop_;
  }
  if (!stopped) {
    // Each poll asks for the next one poll_interval after it ends, not after
    // it began: a slow reload is followed by a pause, never at once by
    // another reload.
    Periodic loop(
        clock_, absl::InfiniteDuration(),
        [this, &loop] {
          Poll().IgnoreError();
          loop.RunBy(clock_->Now() + options_.poll_interval);
        },
        options_.look_again);
    MutexLock lock(&mu_);
    while (!stop_) stopped_.Wait(&mu_);
  }  // the loop's last poll is done before HAProxy stops
  haproxy_->Stop();
}

void Balancer::Stop() {
  MutexLock lock(&mu_);
  stop_ = true;
  stopped_.SignalAll();
}

}  // namespace gantry::lb
