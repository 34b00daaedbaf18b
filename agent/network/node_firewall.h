#pragma once

// Writes Gantry's nftables table (firewall_rules.h) into the node's
// network namespace through libnftables. Each Apply() replaces the whole
// table in one transaction, so the kernel never sees half a ruleset, and
// makes sure bridged traffic passes the table (bridge-nf-call-iptables).

#include <string>

#include "absl/status/status.h"
#include "agent/network/firewall_rules.h"

namespace gantry::agent {

class NodeFirewall {
 public:
  // `netns`: the node's namespace (empty: the agent's).
  NodeFirewall(std::string netns, std::string table = kFirewallTable);
  virtual ~NodeFirewall() = default;

  // Replaces the table; errors carry nftables' words.
  virtual absl::Status Apply(const FirewallConfig& config);
  // Removes the table; not an error when it is not there.
  virtual absl::Status Remove();

 protected:
  // Runs an nft script in the node's namespace.
  virtual absl::Status Run(const std::string& script);

 private:
  absl::Status FilterBridgedTraffic();

  const std::string netns_;
  const std::string table_;
};

}  // namespace gantry::agent
