#pragma once

// Prometheus HTTP service discovery (http_sd_configs): the control plane
// tells Prometheus what to scrape, so new tasks are scraped without
// touching Prometheus' configuration.
//
//   /sd/tasks   every running task's containers that declare a metrics
//               port, labelled service, task, container, node, zone and
//               task_definition (and __metrics_path__ for their path);
//   /sd/agents  every agent's /metrics, labelled node and zone.
//
// Both answer the JSON list of target groups Prometheus expects.

#include <string>

#include "controlplane/state/cluster_state.h"

namespace gantry::metrics {

std::string TaskTargets(const state::ClusterState& state);
std::string AgentTargets(const state::ClusterState& state);

}  // namespace gantry::metrics
