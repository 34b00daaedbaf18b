#pragma once

// The names identities are bound to. A node name is a DNS label (as
// Kubernetes node names are): 1 to 63 of [a-z0-9-], not starting or ending
// with '-'. It becomes a certificate's common name, a store key and a path
// element on the node, so nothing else may pass. The rule itself is
// common/node_fields.h's CheckNodeName, shared with the agent.

#include <string>

#include "absl/status/status.h"

namespace gantry::identity {

// InvalidArgument naming the field ("node name") and the rule.
absl::Status ValidateNodeName(const std::string& name);

}  // namespace gantry::identity
