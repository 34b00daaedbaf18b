#pragma once

// The live tasks of a service as one deployment in focus sees them: which of
// them serve it, which must leave and why, which are unhealthy, which
// deployments still have tasks, and how many of the focus' tasks failed.
// Rolling and blue-green steps both start from this view. Pure: what it
// would read from the state (health checks of task definitions, draining
// nodes) comes in as TaskFacts.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controlplane/deployments/rollout.h"
#include "gantry/v1/types.pb.h"

namespace gantry::deployments {

// What the state knows beyond the tasks themselves.
struct TaskFacts {
  // Task definition references (family:revision) with a health check.
  std::set<std::string> checked_definitions;
  // Nodes that are DRAINING.
  std::set<std::string> draining_nodes;
};

struct RolloutView {
  std::vector<RolloutTask> tasks;             // the live tasks (desired RUNNING)
  std::map<std::string, std::string> reason;  // why a leaving task must go
  std::set<std::string> unhealthy;            // the focus' UNHEALTHY tasks
  std::set<std::string> deployments_with_tasks;
  int failed = 0;  // failed or unhealthy tasks of the focus
};

// Tasks of `focus` that are fine serve it; everything else leaves: tasks of
// other deployments, unhealthy ones, those on draining nodes, those evicted
// for zone rebalancing (replaced first) and those that left the load
// balancer.
RolloutView ViewTasks(const gantry::v1::Service& service, const gantry::v1::Deployment& focus,
                      const std::vector<gantry::v1::Task>& tasks, const TaskFacts& facts,
                      absl::Duration settle_time, absl::Time now);

}  // namespace gantry::deployments
