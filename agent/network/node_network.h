#pragma once

// The node's side of task networking, as the control plane configures it:
// the task subnet it assigned (Registered), which CniNetwork hands out
// addresses from and the node's nftables table masquerades when leaving
// the cluster, and the routes to the other nodes' task subnets that
// come with every desired set, applied when they change. Owns the CNI
// driver and the route table's writer.
//
// Thread-safe: the session thread configures it, the reconciler's thread
// attaches and detaches tasks.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/network/cni_exec.h"
#include "agent/network/cni_network.h"
#include "agent/network/node_firewall.h"
#include "agent/network/node_routes.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

// The routes of `desired` this node may install (pure): inside the task
// CIDR, through another node's IPv4 address, never over its own subnet.
std::vector<Route> UsableRoutes(const gantry::v1::DesiredTasks& desired, const Ipv4Cidr& cidr,
                                const std::string& own_subnet, const std::string& node_address);

class NodeNetwork {
 public:
  struct Options {
    std::string data_dir;  // CNI state under DATA_DIR/cni, namespaces under DATA_DIR/netns
    std::string netns;     // the node's namespace (--netns); empty: the agent's
    // The node's own address: routes through it (or through loopback) are
    // to nodes sharing this namespace, whose subnets are on the bridge.
    std::string node_address;
    std::vector<std::string> plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
  };

  explicit NodeNetwork(Options options);
  // Tests: plugins run through `exec`, routes through `routes` and the
  // table through `firewall` (either may be null).
  NodeNetwork(Options options, std::unique_ptr<CniExec> exec, std::unique_ptr<NodeRoutes> routes,
              std::unique_ptr<NodeFirewall> firewall = nullptr);

  TaskNetwork* tasks() { return &tasks_; }

  // Why task networking cannot work on this node ("" when it can): a
  // missing CNI plugin, an unusable --netns, a table nftables refused.
  // Reported in the node's instance check.
  std::string Problem() const;

  void OnRegistered(const gantry::v1::Registered& registered);
  void OnDesired(const gantry::v1::DesiredTasks& desired);

 private:
  const Options options_;
  std::unique_ptr<CniExec> exec_;
  std::unique_ptr<NodeRoutes> routes_;
  std::unique_ptr<NodeFirewall> firewall_;
  CniNetwork tasks_;

  mutable std::mutex mu_;
  std::string firewall_error_;
  std::optional<Ipv4Cidr> cidr_;
  std::mutex routes_mu_;  // held while `ip` runs
  std::vector<Route> applied_;
  bool routes_applied_ = false;
};

}  // namespace gantry::agent
