#pragma once

// Scales services from numbers in Prometheus. Every evaluation interval,
// for each ACTIVE service with an autoscaling section:
//   - each target-tracking and step-scaling query is run against the
//     service's Prometheus; any error, empty answer or several series means
//     no action this round (an event says why, once per distinct problem,
//     and gantry_autoscaling_errors_total counts it; another says when they
//     answer again);
//   - target tracking multiplies the tasks that run now (not those still
//     starting) by value / target; step scaling adjusts the desired count;
//   - the largest recommendation wins; policy.h decides within min and max,
//     the cooldowns, the scale-in window and running deployments;
//   - a change of count is written like `gantryctl scale` would (the
//     service and its primary deployment), with an event quoting each
//     query's value, target and recommendation;
//   - what was seen and decided is kept in the service's autoscaling status
//     (`gantryctl get autoscaling`), including the cooldown timestamps, so a
//     restarted control plane honours them.
//
// The scale-in window's history is in memory; after a restart it starts
// with the current count, so nothing scales in until one window has passed.
//
// Evaluate() and EvaluateAll() must not run concurrently (the Periodic
// thread calls them; tests call them directly on a fake clock).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/periodic.h"
#include "controlplane/autoscaling/policy.h"
#include "controlplane/autoscaling/prometheus_client.h"
#include "controlplane/events/event_log.h"
#include "controlplane/metrics/cp_metrics.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::autoscaling {

class Autoscaler {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(15);
  };

  // `metrics` may be null.
  Autoscaler(state::ClusterState* state, events::EventLog* events, const Clock* clock,
             Prometheus* prometheus, metrics::ControlPlaneMetrics* metrics, Options options);

  void Start();
  void Stop();

  void EvaluateAll();
  absl::Status Evaluate(const gantry::v1::Service& service);

 private:
  // What the service's queries said.
  struct Observations {
    int recommendation = -1;  // the largest; -1 without an answer
    std::vector<std::string> quotes;
    std::string error;  // the first query that failed
  };
  // What to do about it.
  struct Outcome {
    int desired = 0;
    std::string direction;  // "out" or "in" when the count changes
    std::string event;
    std::string event_key;  // events with the same key are recorded once
  };
  Observations Observe(const gantry::v1::Service& service, gantry::v1::AutoscalingStatus& status);
  // The decision's input; feeds the scale-in window.
  DecisionInput InputFor(const gantry::v1::Service& service, int recommendation, absl::Time now);
  Outcome Judge(const gantry::v1::Service& service, const Observations& seen, absl::Time now,
                gantry::v1::AutoscalingStatus& status);
  absl::Status Write(const gantry::v1::Service& service,
                     const gantry::v1::AutoscalingStatus& status, const Outcome& outcome,
                     absl::Time now);
  // Records `message` as an event unless the last one recorded for the
  // service had the same `key` (the same error, the same kind of hold).
  void RecordOnce(const std::string& service, const std::string& key, const std::string& message);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  Prometheus* const prometheus_;
  metrics::ControlPlaneMetrics* const metrics_;
  const Options options_;

  std::map<std::string, Stabilizer> stabilizers_;
  std::map<std::string, std::string> last_event_;  // service -> last event key
  std::unique_ptr<Periodic> loop_;
};

}  // namespace gantry::autoscaling
