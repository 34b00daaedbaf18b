#pragma once

// Builds the production agent from its settings, as ControlPlane::Start does
// for the control plane: the node's capacity (detected, or --cpu/--memory),
// the containerd runtime (checked with a ping that only warns: the agent
// keeps trying), the Agent's options, and the /metrics endpoint, started
// before the agent so that registration advertises only an address that
// really serves. The returned agent owns the runtime and the endpoint and
// is not started yet.
//
// The pure steps are exposed for tests; CreateAgent() needs no containerd
// to succeed (a missing socket only warns).

#include <memory>

#include "absl/status/statusor.h"
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/machine_capacity.h"
#include "agent/runtime/containerd_runtime.h"
#include "common/clock.h"

namespace gantry::agent {

inline constexpr char kAgentVersion[] = "0.1.0";

absl::StatusOr<std::unique_ptr<Agent>> CreateAgent(const AgentConfig& config,
                                                   const MachineCapacity& machine,
                                                   const Clock* clock);
inline absl::StatusOr<std::unique_ptr<Agent>> CreateAgent(const AgentConfig& config,
                                                          const Clock* clock) {
  return CreateAgent(config, DetectMachineCapacity(), clock);
}

// The Agent's options for `config` on a node of `capacity`; the metrics
// address is left to CreateAgent().
Agent::Options AgentOptionsFor(const AgentConfig& config, const NodeCapacity& capacity);
// What the node identity needs: where it lives, how to join.
NodeIdentity::Options IdentityOptionsFor(const AgentConfig& config);

ContainerdRuntime::Options RuntimeOptionsFor(const AgentConfig& config);

}  // namespace gantry::agent
