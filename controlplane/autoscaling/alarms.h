#pragma once

// Alarm-gated deployments. While a service's primary deployment is
// IN_PROGRESS (rolling out, or shifting and baking for blue-green), each of
// its alarms — a PromQL expression that must return no series — is
// evaluated every interval. The first alarm that returns a series is
// written into the deployment (Deployment.alarm); the service controller
// then fails the deployment and rolls it back, exactly as it does for
// failing health checks. Rollback deployments are not gated: a rollback
// must not be stopped by the alarm that caused it.
//
// An alarm that cannot be evaluated (Prometheus down, a query that errors)
// does not let a deployment go on unguarded: the deployment holds
// (Deployment.alarms_unavailable_since; see deployments::HeldForAlarms)
// until every alarm answers again, for at most `unavailable_timeout`; then
// it fails (alarms.onUnavailable: fail, the default) or goes on without its
// alarms (proceed). Each distinct problem is an event and counts in
// gantry_deployment_alarm_errors_total.
//
// EvaluateAll() must not run concurrently with itself.

#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/periodic.h"
#include "controlplane/autoscaling/prometheus_client.h"
#include "controlplane/events/event_log.h"
#include "controlplane/metrics/cp_metrics.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::autoscaling {

class AlarmWatcher {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(10);
    absl::Duration unavailable_timeout = absl::Minutes(5);
  };

  // `metrics` may be null. The loop runs on `clock`.
  AlarmWatcher(state::ClusterState* state, events::EventLog* events, const Clock* clock,
               Prometheus* prometheus, metrics::ControlPlaneMetrics* metrics, Options options);

  void Start();
  void Stop();
  void EvaluateAll();

 private:
  absl::Status Evaluate(const gantry::v1::Service& service, const gantry::v1::Deployment& d);
  absl::Status SetAlarm(const gantry::v1::Service& service, const gantry::v1::Deployment& d,
                        const std::string& alarm);
  // Holds, releases, fails or waives `d` for `problem` (empty: every alarm
  // answered).
  absl::Status Unavailable(const gantry::v1::Service& service, const gantry::v1::Deployment& d,
                           const std::string& problem);
  static std::string OnUnavailable(const gantry::v1::Service& service);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  Prometheus* const prometheus_;
  metrics::ControlPlaneMetrics* const metrics_;
  const Options options_;
  std::map<std::string, std::string> last_error_;  // deployment id -> error reported
  std::unique_ptr<Periodic> loop_;
};

}  // namespace gantry::autoscaling
