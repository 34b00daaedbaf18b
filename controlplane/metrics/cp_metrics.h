#pragma once

// The control plane's Prometheus metrics. Counters and histograms are
// recorded as things happen (API calls, placements, controller passes,
// autoscaling decisions and alarms); the counts of tasks, nodes and
// deployments are read from the cluster state at scrape time, so they are
// never stale and need no bookkeeping.
//
// Thread-safe. Components take a nullable pointer: tests that do not look
// at metrics pass none.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controlplane/state/cluster_state.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace gantry::metrics {

class ControlPlaneMetrics final : public prometheus::Collectable {
 public:
  // `state` may be null (no state-derived series).
  explicit ControlPlaneMetrics(const state::ClusterState* state);

  // An operator API call and its gRPC status code name (OK, NOT_FOUND...).
  void ApiRequest(const std::string& method, const std::string& code, absl::Duration took);
  // One placement request: tasks placed and left unplaced.
  void Placement(int placed, int unplaced, absl::Duration took);
  // One pass of a control loop (services, autoscaler, alarms).
  void LoopPass(const std::string& loop, absl::Duration took);
  // direction: out or in; only decisions that change the count are counted
  // (held and steady ones are in the service's status and events).
  void AutoscalingDecision(const std::string& service, const std::string& direction);
  void AutoscalingError(const std::string& service);
  void AlarmFired(const std::string& service, const std::string& alarm);
  void AlarmError(const std::string& service);

  // The state-derived series, read now.
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Everything, in Prometheus' text format.
  std::string Render() const;

 private:
  const state::ClusterState* const state_;
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Counter>& placements_;
  prometheus::Histogram& placement_seconds_;
  prometheus::Family<prometheus::Histogram>& loop_seconds_;
  prometheus::Family<prometheus::Counter>& scaling_;
  prometheus::Family<prometheus::Counter>& scaling_errors_;
  prometheus::Family<prometheus::Counter>& alarms_;
  prometheus::Family<prometheus::Counter>& alarm_errors_;
};

}  // namespace gantry::metrics
