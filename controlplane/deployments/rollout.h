#pragma once

// The arithmetic of deployments, as pure functions: which tasks to start
// and stop in a rolling deployment, the circuit breaker's threshold, the
// share of traffic a blue-green shift has reached, and load balancer
// weights. The controller feeds them the state and acts on the answers.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gantry/v1/types.pb.h"

namespace gantry::deployments {

// A live task (desired RUNNING) of the service, as a rollout sees it.
struct RolloutTask {
  std::string id;
  std::string node;
  std::string zone;
  bool primary = false;  // belongs to the deployment being rolled out
  bool running = false;
  bool healthy = false;  // health check passes, or settled without one
  // Must be replaced: an older deployment, unhealthy, on a draining node or
  // evicted for zone rebalancing.
  bool leaving = false;
  // Leaving, but only once a replacement is healthy, whatever the minimum
  // healthy percent (zone rebalancing moves tasks, it does not shed them).
  bool replace_first = false;
};

struct RollingPlan {
  int start = 0;                  // new tasks of the primary deployment
  std::vector<std::string> stop;  // tasks to stop now
};

// minimumHealthyPercent (rounded up) of `desired` stays healthy; at most
// maximumPercent (rounded down, at least `desired`) runs. Leaving tasks are
// kept only while they are needed for the minimum; new tasks start as far as
// the maximum allows. `can_start` is false while the deployment may not
// start tasks (backoff, failed).
RollingPlan PlanRolling(int desired, int min_percent, int max_percent,
                        const std::vector<RolloutTask>& tasks, bool can_start);

int MinHealthy(int desired, int min_percent);
int MaxTotal(int desired, int max_percent);

// clamp(0.5 x desired, 3, 200) unless configured.
int CircuitBreakerThreshold(int desired, int configured);

// The share (0..100) of production traffic on the new deployment after
// `elapsed` of shifting: allAtOnce 100; linear +stepPercent every interval;
// canary `percent`, then 100 after one interval.
int TrafficPercent(const gantry::v1::DeploymentConfiguration::Traffic& traffic,
                   absl::Duration elapsed);

// HAProxy weight (0..256) for each of `tasks` servers that together carry
// `percent` of a listener's traffic.
int ServerWeight(int percent, int tasks);

}  // namespace gantry::deployments
