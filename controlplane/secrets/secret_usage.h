#pragma once

// Who uses a secret, read off the cluster state: the references in a task
// definition, the services whose deployments run one that references a
// secret, and the versions those deployments pin. Pure functions over
// ClusterState's reads (thread-safe as they are).

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/spec/secret_refs.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/types.pb.h"

namespace gantry::secrets {

// Every secret reference of `td`'s containers that parses.
std::vector<spec::SecretRef> References(const gantry::v1::TaskDefinition& td);
// Whether `td` references `name` (pinned or not).
bool ReferencesSecret(const gantry::v1::TaskDefinition& td, const std::string& name);
// Whether `td` references `name` without a version: such a reference
// follows the secret's current version from one deployment to the next.
bool FollowsSecret(const gantry::v1::TaskDefinition& td, const std::string& name);

// Services (not being deleted) with a deployment that is not INACTIVE and
// runs a task definition that references `name`, sorted.
std::vector<std::string> ServicesUsing(const state::ClusterState& state, const std::string& name);
// The versions of `name` any service's deployments pin (rollbacks need
// them too).
std::set<int64_t> PinnedVersions(const state::ClusterState& state, const std::string& name);

}  // namespace gantry::secrets
