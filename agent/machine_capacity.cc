#include "agent/machine_capacity.h"

#include <unistd.h>

#include <fstream>
#include <string>

namespace gantry::agent {

MachineCapacity DetectMachineCapacity() {
  MachineCapacity out;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  out.cpu_millis = (cores > 0 ? cores : 1) * 1000;
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") {
      out.memory_bytes = kb * 1024;
      break;
    }
  }
  return out;
}

absl::StatusOr<NodeCapacity> ResolveCapacity(const AgentConfig& config,
                                             const MachineCapacity& machine) {
  NodeCapacity out;
  out.cpu_millis = config.cpu.value_or(machine.cpu_millis);
  if (config.memory) {
    out.memory_bytes = *config.memory;
    return out;
  }
  out.memory_bytes = machine.memory_bytes - config.memory_reserve;
  if (out.memory_bytes <= 0) {
    return absl::InvalidArgumentError("--memory-reserve is larger than the machine's memory");
  }
  return out;
}

}  // namespace gantry::agent
