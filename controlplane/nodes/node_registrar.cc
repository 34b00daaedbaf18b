#include "controlplane/nodes/node_registrar.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/quantity.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/nodes/registration.h"
#include "controlplane/state/keys.h"

namespace gantry::nodes {

using gantry::v1::Node;

namespace {

// The record `r` describes, over what the store holds of the node.
void Describe(const gantry::v1::RegisterRequest& r, absl::Time now, Node& n) {
  n.set_name(r.node_name());
  n.set_zone(r.zone());
  *n.mutable_attributes() = r.attributes();
  n.set_address(r.address());
  n.set_metrics_address(r.metrics_address());
  *n.mutable_capacity() = r.capacity();
  n.set_port_range_start(r.port_range_start());
  n.set_port_range_end(r.port_range_end());
  n.set_agent_version(r.agent_version());
  n.set_status(n.drain_requested() || n.status() == Node::DRAINING ? Node::DRAINING : Node::ACTIVE);
  *n.mutable_registered_at() = ToProtoTime(now);
  *n.mutable_last_heartbeat() = ToProtoTime(now);
  n.clear_allocated();
  n.clear_running_tasks();
  n.clear_connected();
}

}  // namespace

NodeRegistrar::NodeRegistrar(state::ClusterState* state, events::EventLog* events,
                             TaskNetworkConfig network)
    : state_(state), events_(events), network_(network) {}

absl::Status NodeRegistrar::AssignSubnet(Node& n, const std::set<std::string>& refused,
                                         store::TxnRequest& txn) const {
  const std::string current = n.task_subnet();
  if (InPool(network_, current) && !refused.contains(current)) {
    return absl::OkStatus();  // kept: its reservation is already stored
  }
  // Only a node that needs a subnet pays for looking at every other's.
  std::set<std::string> taken = refused;
  for (const Node& other : state_->ListNodes()) {
    if (other.name() != n.name() && !other.task_subnet().empty()) {
      taken.insert(other.task_subnet());
    }
  }
  ASSIGN_OR_RETURN(const Ipv4Cidr chosen, ChooseSubnet(network_, n.name(), "", taken));
  if (!current.empty()) txn.ops.push_back(store::Op::Delete(state::SubnetKey(current)));
  txn.compares.push_back({state::SubnetKey(chosen.ToString()), 0});
  txn.ops.push_back(store::Op::Put(state::SubnetKey(chosen.ToString()), n.name()));
  n.set_task_subnet(chosen.ToString());
  return absl::OkStatus();
}

absl::StatusOr<NodeRegistrar::Written> NodeRegistrar::Write(const gantry::v1::RegisterRequest& r,
                                                            absl::Time now) {
  if (auto st = ValidateRegistration(r); !st.ok()) return st;
  if (auto st = CheckNodeAddress(network_, r.address()); !st.ok()) return st;
  const std::string& name = r.node_name();
  // Subnets whose reservation another registration won meanwhile.
  std::set<std::string> refused;
  for (int attempt = 0;; ++attempt) {
    const auto existing = state_->GetNode(name);
    Node n = existing ? existing->value : Node();
    Written written;
    written.previous = n.status();
    written.previous_subnet = n.task_subnet();
    written.previous_address = n.address();
    Describe(r, now, n);
    written.status = n.status();
    store::TxnRequest txn;
    txn.compares.push_back({state::NodeKey(name), existing ? existing->mod_revision : 0});
    RETURN_IF_ERROR(AssignSubnet(n, refused, txn));
    txn.ops.push_back(store::Op::Put(state::NodeKey(name), n.SerializeAsString()));
    written.task_subnet = n.task_subnet();
    auto result = state_->Commit(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) return written;
    if (n.task_subnet() != written.previous_subnet) refused.insert(n.task_subnet());
    if (attempt > 10) return absl::AbortedError("register: too many concurrent node updates");
  }
}

void NodeRegistrar::Announce(const gantry::v1::RegisterRequest& r, const Written& written) {
  const std::string& name = r.node_name();
  if (written.previous == Node::STATUS_UNSPECIFIED) {
    events_->Record("", "", name,
                    absl::StrCat("node ", name, " registered in zone ", r.zone(), " with ",
                                 FormatCpu(r.capacity().cpu()), " cpu, ",
                                 FormatMemory(r.capacity().memory()), " memory"));
  } else if (written.previous == Node::DOWN) {
    events_->Record("", "", name,
                    absl::StrCat("node ", name, " is back and ", Node::Status_Name(written.status),
                                 written.status == Node::DRAINING ? " (it was drained)" : ""));
  } else {
    spdlog::info("node {} reconnected", name);
  }
}

}  // namespace gantry::nodes
