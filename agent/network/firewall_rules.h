#pragma once

// The ruleset of Gantry's nftables table in the node's network namespace
// (`table ip gantry`), as a function of the node's tasks and what the
// control plane sent (pure). The table:
//
//   postrouting  masquerade what leaves the task CIDR from this node's
//                subnet (traffic between tasks keeps its source address,
//                which the rules below match)
//   input        a task reaches nothing of the node itself (its loopback
//                services, the agent) but replies to the node's own
//                connections (health checks)
//   forward      packets from tasks: the network ACLs' egress rules;
//                packets to tasks: the ACLs' ingress rules (stateless,
//                first), then replies of allowed connections, then the
//                destination task's chain: its published ports (only
//                connections that came in through a host port), then its
//                service's rules (its own tasks, fromService sets, CIDRs),
//                then drop. An address with no task here is dropped.
//
// Bridged traffic between tasks on one node passes the forward hook
// through br_netfilter (bridge-nf-call-iptables), which NodeFirewall turns
// on. Every value written into the script comes from a parsed address,
// CIDR or number, never from a name the control plane sent.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

inline constexpr char kFirewallTable[] = "gantry";

struct FirewallTask {
  std::string address;              // its task address
  std::string service;              // whose ingress rules apply
  std::vector<uint32_t> published;  // container ports published on host ports (tcp)
};

struct FirewallConfig {
  std::string table = kFirewallTable;  // letters, digits and '_'
  std::string bridge = "gantry0";      // the tasks' bridge
  std::string subnet;                  // the node's task subnet
  std::string task_cidr;               // the cluster's
  std::vector<FirewallTask> tasks;
  // From the newest desired set.
  std::vector<gantry::v1::ServiceIngress> ingress;
  std::vector<gantry::v1::ServiceAddresses> addresses;
  std::vector<gantry::v1::NetworkAcl> network_acls;
};

// The nft script that replaces the table in one transaction, or
// InvalidArgument when the subnet or CIDR is not one. Rules with an
// address, CIDR or port that does not parse are left out (the control
// plane validated them; a bad one must not open anything).
absl::StatusOr<std::string> RulesetFor(const FirewallConfig& config);

// The script that removes the table (not an error when it is absent).
std::string RemoveTableScript(const std::string& table = kFirewallTable);

}  // namespace gantry::agent
