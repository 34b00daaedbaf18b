#pragma once

// Which containers the HealthMonitor probes: every running container of a
// RUNNING task whose definition declares a health check, with the host port
// its http or tcp check names and the time the task started (for the start
// period). The reconciler hands the result to HealthMonitor::Sync() in each
// pass, after tasks moved and before it reports, so a task that began
// stopping reports no stale health. Pure function.

#include <string>
#include <vector>

#include "agent/health/health_monitor.h"
#include "agent/tracked_task.h"

namespace gantry::agent {

std::vector<HealthTarget> HealthTargetsFor(const TrackedTasks& tasks,
                                           const std::string& node_address);

}  // namespace gantry::agent
