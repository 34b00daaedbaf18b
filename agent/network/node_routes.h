#pragma once

// Host-gateway routing between nodes' task subnets: in the node's network
// namespace, a route to every other node's task subnet through that node's
// address, and no stale ones. Routes are read and changed with iproute2's
// `ip` run in the namespace; PlanRoutes, which decides, is pure.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/cidr.h"

namespace gantry::agent {

struct Route {
  std::string subnet;  // "10.200.4.0/24"
  std::string via;     // "192.168.1.12"
  bool operator==(const Route&) const = default;
};

// `ip` arguments that turn `existing` (the output of `ip -j route show`)
// into `wanted`: "route replace S via A" for a missing or different one,
// "route del S" for a gateway route inside `task_cidr` nobody wants.
std::vector<std::vector<std::string>> PlanRoutes(const std::string& existing_json,
                                                 const std::vector<Route>& wanted,
                                                 const Ipv4Cidr& task_cidr);

class NodeRoutes {
 public:
  // `netns`: the node's namespace (empty: the agent's).
  explicit NodeRoutes(std::string netns, std::string ip_path = "");

  // Makes the routes so; errors carry `ip`'s words.
  absl::Status Apply(const std::vector<Route>& wanted, const Ipv4Cidr& task_cidr);

 private:
  absl::StatusOr<std::string> Ip(const std::vector<std::string>& args);

  const std::string netns_;
  std::string ip_path_;
};

}  // namespace gantry::agent
