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

  // Replaces the table with `ruleset`, which is RulesetFor(config) (the
  // caller has it already: it compares it with what it applied last, and a
  // large node's ruleset is not cheap to make twice). Errors carry
  // nftables' words.
  virtual absl::Status Apply(const FirewallConfig& config, const std::string& ruleset);
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
