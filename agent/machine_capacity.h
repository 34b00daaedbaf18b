#pragma once

// What this node offers the scheduler: the machine's cores and memory,
// unless --cpu or --memory say otherwise; without --memory, physical memory
// minus --memory-reserve for the host. Detection reads sysconf and
// /proc/meminfo; ResolveCapacity() is pure.

#include <cstdint>

#include "absl/status/statusor.h"
#include "agent/config.h"

namespace gantry::agent {

// Cores x 1000 and physical memory from /proc/meminfo.
struct MachineCapacity {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
};
MachineCapacity DetectMachineCapacity();

// What the agent registers as its capacity.
struct NodeCapacity {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
};
absl::StatusOr<NodeCapacity> ResolveCapacity(const AgentConfig& config,
                                             const MachineCapacity& machine);

}  // namespace gantry::agent
