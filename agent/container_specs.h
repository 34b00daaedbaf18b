#pragma once

// How a task's containers are written to the runtime and read back from it.
// BuildContainerSpec() turns one container of an assignment into what the
// runtime creates: command, the definition's environment plus Gantry's own
// (GANTRY_TASK_ID, GANTRY_PORT_<NAME>, ...), limits, network namespace, log
// file and the labels that let a restarted agent find it again.
// ContainerFromLabels() reads those labels back for a container the agent
// has no record of. Pure functions.

#include <map>
#include <string>
#include <vector>

#include "agent/runtime/container_runtime.h"
#include "agent/secrets/secret_provider.h"
#include "agent/tracked_task.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

inline constexpr char kLabelEssential[] = "io.gantry.essential";
inline constexpr char kLabelImage[] = "io.gantry.image";
inline constexpr char kLabelStopTimeout[] = "io.gantry.stop-timeout-ms";

// The node a task runs on, as its containers see it.
struct TaskHost {
  std::string node_name;
  std::string zone;
  std::string address;     // where the task's host ports are reachable
  std::string netns_path;  // empty: the host's network namespace
  // The task's own address (networkMode task): GANTRY_TASK_ADDRESS.
  std::string task_address;
};

// GANTRY_* variables every container of the task gets.
std::vector<std::string> GantryEnvironment(const gantry::v1::TaskAssignment& assignment,
                                           const TaskHost& host);

// The spec of container `index` of `assignment`, tracked as `container`,
// with its secrets' variables and files when `secrets` is given.
ContainerSpec BuildContainerSpec(const gantry::v1::TaskAssignment& assignment, int index,
                                 const TrackedContainer& container, const TaskHost& host,
                                 const std::string& log_path,
                                 const ContainerSecrets* secrets = nullptr);

// A container found in the runtime under `name` (its kLabelContainer),
// with what its labels say about image, essential and stop timeout.
TrackedContainer ContainerFromLabels(const std::string& id, const std::string& name,
                                     const std::map<std::string, std::string>& labels);

}  // namespace gantry::agent
