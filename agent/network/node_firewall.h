#pragma once

// The nftables table Gantry owns in the node's network namespace
// (`table ip gantry`), written through libnftables. Each Apply() replaces
// the whole table in one transaction, so the kernel never sees half a
// ruleset. Today it holds the masquerade for connections that leave the
// cluster: from the node's task subnet to anything outside the task CIDR;
// traffic between tasks keeps its source address (what security groups
// match on). RulesetFor() is pure.

#include <string>

#include "absl/status/status.h"

namespace gantry::agent {

inline constexpr char kFirewallTable[] = "gantry";

// The nft script that replaces the table: its ruleset for `subnet` and
// `task_cidr` (validated CIDRs).
std::string RulesetFor(const std::string& subnet, const std::string& task_cidr);

class NodeFirewall {
 public:
  // `netns`: the node's namespace (empty: the agent's).
  explicit NodeFirewall(std::string netns);

  // Replaces the table; errors carry nftables' words.
  absl::Status Apply(const std::string& subnet, const std::string& task_cidr);
  // Removes the table; not an error when it is not there.
  absl::Status Remove();

 private:
  absl::Status Run(const std::string& script);

  const std::string netns_;
};

}  // namespace gantry::agent
