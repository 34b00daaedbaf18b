#pragma once

// Which task subnet a node gets: a /24 (or the configured length) out of
// the cluster's task CIDR, the lowest one no other node holds. Pure: the
// caller passes what is taken and makes the choice stick with a
// compare-and-swap on the subnet's reservation key (NodeRegistrar).

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/cidr.h"

namespace gantry::nodes {

struct TaskNetworkConfig {
  Ipv4Cidr cidr{(10u << 24) | (200u << 16), 16};  // 10.200.0.0/16
  int node_prefix = 24;
};

// InvalidArgument when node subnets of `node_prefix` do not fit `cidr`.
absl::Status ValidateTaskNetwork(const TaskNetworkConfig& config);

// Whether `subnet` is one of the pool's node subnets.
bool InPool(const TaskNetworkConfig& config, const std::string& subnet);

// `current` (the node's subnet, possibly from an earlier --task-cidr) when
// it still belongs to the pool and overlaps none of `taken_by_others`;
// otherwise the lowest subnet that overlaps none. ResourceExhausted when
// every one is taken.
absl::StatusOr<Ipv4Cidr> ChooseSubnet(const TaskNetworkConfig& config, const std::string& node,
                                      const std::string& current,
                                      const std::set<std::string>& taken_by_others);

// InvalidArgument when the node's address lies in the task CIDR (tasks and
// nodes would be indistinguishable to the routes).
absl::Status CheckNodeAddress(const TaskNetworkConfig& config, const std::string& address);

}  // namespace gantry::nodes
