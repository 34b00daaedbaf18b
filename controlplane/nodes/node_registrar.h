#pragma once

// Writes the node record an agent's registration describes. The agent is
// the authority on what it is (zone, attributes, addresses, capacity, port
// range, version); the control plane keeps what the operator decided: a
// node drained, or asked to be drained while it was DOWN, comes back
// DRAINING, anything else ACTIVE. Allocations and running counts are
// derived from the tasks, never stored.
//
// Ownership: `state` and `events` are not owned.
//
// Thread safety: holds no state of its own; all methods are thread-safe
// (the write is a compare-and-swap transaction, retried on conflict).

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controlplane/events/event_log.h"
#include "controlplane/nodes/subnet_pool.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::nodes {

class NodeRegistrar {
 public:
  // What the registration changed.
  struct Written {
    // The status before; STATUS_UNSPECIFIED for a node not known before.
    gantry::v1::Node::Status previous = gantry::v1::Node::STATUS_UNSPECIFIED;
    gantry::v1::Node::Status status = gantry::v1::Node::ACTIVE;
    // The node's task subnet and address before and after: when either
    // changed, every other node's routes must change too.
    std::string previous_subnet;
    std::string previous_address;
    std::string task_subnet;
    bool RoutesChanged(const std::string& address) const {
      return task_subnet != previous_subnet || address != previous_address;
    }
  };

  NodeRegistrar(state::ClusterState* state, events::EventLog* events,
                TaskNetworkConfig network = {});

  // Validates the registration (ValidateRegistration, registration.h) and
  // writes the node's record as registered and heard from at `now`. A
  // registration that fails validation is InvalidArgument naming the field,
  // and nothing is written. A node keeps its task subnet; one without (or
  // with one outside the task CIDR) gets the lowest free one, reserved in
  // the same transaction.
  absl::StatusOr<Written> Write(const gantry::v1::RegisterRequest& request, absl::Time now);
  // Tells the event log about a new node or one back from DOWN (a
  // reconnect of a live node is only logged).
  void Announce(const gantry::v1::RegisterRequest& request, const Written& written);

 private:
  // The task subnet `n` should have, and the ops that reserve it.
  absl::Status AssignSubnet(gantry::v1::Node& n, const std::set<std::string>& refused,
                            store::TxnRequest& txn) const;

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const TaskNetworkConfig network_;
};

}  // namespace gantry::nodes
