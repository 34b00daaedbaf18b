#pragma once

// A control plane's ListEndpoints that answers what the test set (no
// listeners at first), or an error while it is "down". Counts calls and
// lets a test wait for the loop to have asked, without sleeping.
// Thread-safe: the Balancer's loop asks while the test sets.

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/status/status.h"
#include "lb/endpoints_source.h"

namespace gantry::testing {

class FakeEndpointsSource : public lb::EndpointsSource {
 public:
  absl::StatusOr<gantry::v1::ListEndpointsResponse> List() override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_++;
    cv_.notify_all();
    if (!down_.ok()) return down_;
    return endpoints_;
  }

  void Set(gantry::v1::ListEndpointsResponse endpoints) {
    std::lock_guard<std::mutex> lock(mu_);
    endpoints_ = std::move(endpoints);
  }
  // List() fails with `status` until told OkStatus().
  void SetDown(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = std::move(status);
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Waits until List() was called at least `n` times in all; false after a
  // generous real deadline (a hang, not a timing assertion).
  bool WaitForCalls(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return calls_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  gantry::v1::ListEndpointsResponse endpoints_;
  absl::Status down_;
  int calls_ = 0;
};

}  // namespace gantry::testing
