#pragma once

// Whether an agent's registration may be believed at all. The agent is the
// authority on what its node is, but what it says becomes store keys,
// placement facts, metric labels, log lines and, through task addresses,
// gantry-lb's HAProxy configuration; so every field is held to the rules of
// common/node_fields.h before anything is written:
//   node_name        a DNS label (1 to 63 of a-z, 0-9, '-')
//   zone             1 to 63 of A-Z, a-z, 0-9, '.', '_', '-'
//   attributes       at most kMaxNodeAttributes; keys and values like
//                    Kubernetes label keys and values
//   address          an IPv4 or IPv6 literal
//   metrics_address  empty, or HOST:PORT
//   capacity         cpu and memory positive
//   port range       1 <= start <= end <= 65535
//   agent_version    a short version string
// (The task states a registration carries are reports, matched against the
// store's tasks, not facts about the node; they are not checked here.)
//
// The error is InvalidArgument naming the node and the field, e.g.
//   registration of node "n1": attributes["disk type"]: key must be ...
// with every value quoted and escaped, so it is safe to log and to send
// back on the stream. Attributes are checked in key order, so the same
// registration always gets the same message.
//
// Pure and thread-safe.

#include "absl/status/status.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::nodes {

absl::Status ValidateRegistration(const gantry::v1::RegisterRequest& request);

}  // namespace gantry::nodes
