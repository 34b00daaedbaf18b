#pragma once

// A Prometheus that answers each query with the values the test set for
// it (no series when none were set), or with an error while it is "down".
// Counts queries. Thread-safe: the autoscaler's loop may query it.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controlplane/autoscaling/prometheus_client.h"

namespace gantry::testing {

// Answers each query with what the test set for it.
class FakePrometheus : public autoscaling::Prometheus {
 public:
  absl::StatusOr<autoscaling::QueryResult> Query(const std::string& address,
                                                 const std::string& promql) override {
    std::lock_guard<std::mutex> lock(mu_);
    queries_++;
    if (!down_.ok()) return down_;
    auto it = answers_.find(promql);
    if (it == answers_.end()) return autoscaling::QueryResult{};
    return it->second;
  }
  void Set(const std::string& query, std::vector<double> values) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[query] = autoscaling::QueryResult{false, std::move(values)};
  }
  void SetDown(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = std::move(status);
  }
  int queries() {
    std::lock_guard<std::mutex> lock(mu_);
    return queries_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, autoscaling::QueryResult> answers_;
  absl::Status down_;
  int queries_ = 0;
};

}  // namespace gantry::testing
