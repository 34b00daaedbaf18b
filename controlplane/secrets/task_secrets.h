#pragma once

// What a node's agent gets when it starts a task that references secrets:
// the values of the versions the task's deployment pinned, and only for a
// task the control plane placed on that very node and still wants running.
// Anything else is PermissionDenied, worded the same whether the task
// exists or not, so a node learns nothing about other nodes' tasks.
//
// Thread-safe (reads only).

#include <string>

#include "absl/status/statusor.h"
#include "controlplane/secrets/secret_registry.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::secrets {

absl::StatusOr<gantry::v1::TaskSecrets> TaskSecretsFor(const state::ClusterState& state,
                                                       const SecretRegistry& registry,
                                                       const std::string& node,
                                                       const std::string& task_id);

}  // namespace gantry::secrets
