#include "controlplane/nodes/subnet_pool.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gantry::nodes {

absl::Status ValidateTaskNetwork(const TaskNetworkConfig& c) {
  if (c.node_prefix < 16 || c.node_prefix > 28) {
    return absl::InvalidArgumentError(
        absl::StrCat("--task-subnet-size /", c.node_prefix, ": must be between /16 and /28"));
  }
  if (c.node_prefix <= c.cidr.prefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("--task-cidr ", c.cidr.ToString(), " is too small for /", c.node_prefix,
                     " node subnets; use a shorter prefix such as /16"));
  }
  return absl::OkStatus();
}

bool InPool(const TaskNetworkConfig& c, const std::string& subnet) {
  auto parsed = ParseIpv4Cidr(subnet);
  return parsed.ok() && parsed->prefix == c.node_prefix && c.cidr.Contains(parsed->base);
}

absl::StatusOr<Ipv4Cidr> ChooseSubnet(const TaskNetworkConfig& c, const std::string& node,
                                      const std::string& current,
                                      const std::set<std::string>& taken) {
  // Compared as ranges, not strings: after a --task-subnet-size change a
  // /25 and another node's /24 may overlap.
  std::vector<Ipv4Cidr> held;
  for (const auto& t : taken) {
    if (auto parsed = ParseIpv4Cidr(t); parsed.ok()) held.push_back(*parsed);
  }
  auto free = [&](const Ipv4Cidr& s) {
    return std::none_of(held.begin(), held.end(), [&](const Ipv4Cidr& h) { return h.Overlaps(s); });
  };
  if (InPool(c, current) && free(*ParseIpv4Cidr(current))) return *ParseIpv4Cidr(current);
  const uint64_t count = uint64_t{1} << (c.node_prefix - c.cidr.prefix);
  for (uint64_t i = 0; i < count; ++i) {
    const Ipv4Cidr subnet = c.cidr.Block(c.node_prefix, static_cast<uint32_t>(i));
    if (free(subnet)) return subnet;
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "node ", node, " gets no task subnet: all ", count, " /", c.node_prefix,
      " subnets of --task-cidr ", c.cidr.ToString(),
      " are held by other nodes; delete nodes that are gone (gantryctl delete node) or restart "
      "the control plane with a larger --task-cidr"));
}

absl::Status CheckNodeAddress(const TaskNetworkConfig& c, const std::string& address) {
  const auto a = ParseIpv4(address);
  if (a && c.cidr.Contains(*a)) {
    return absl::InvalidArgumentError(
        absl::StrCat("address: ", address, " lies inside the task CIDR ", c.cidr.ToString(),
                     "; start the control plane with a --task-cidr that no node address falls in"));
  }
  return absl::OkStatus();
}

}  // namespace gantry::nodes
