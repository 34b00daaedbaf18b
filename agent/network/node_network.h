#pragma once

// The node's side of task networking, as the control plane configures it:
// the task subnet it assigned (Registered), which CniNetwork hands out
// addresses from; the routes to the other nodes' task subnets that come
// with every desired set, applied when they change; and the node's
// nftables table (firewall_rules.h), rewritten whenever a task is attached
// or detached or a desired set changes the rules, and removed when no task
// is attached. An agent that restarts leaves the table as it was until its
// first desired set, so running tasks keep their rules. Owns the CNI
// driver, the route table's writer and the firewall.
//
// Thread-safe: the session thread configures it, the reconciler's thread
// attaches and detaches tasks (through tasks()).

#include <map>
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
    bool manage_namespaces = true;  // false only in unprivileged tests
    // Its bridge is NAME0, its CNI network and nftables table NAME.
    std::string name = kFirewallTable;
  };

  explicit NodeNetwork(Options options);
  // Tests: plugins run through `exec`, routes through `routes` and the
  // table through `firewall` (either may be null).
  NodeNetwork(Options options, std::unique_ptr<CniExec> exec, std::unique_ptr<NodeRoutes> routes,
              std::unique_ptr<NodeFirewall> firewall = nullptr);

  // Attach and Detach also bring the firewall up to date.
  TaskNetwork* tasks() { return &firewalled_; }
  std::string subnet() const { return tasks_.subnet(); }

  // Why task networking cannot work on this node ("" when it can): a
  // missing CNI plugin, an unusable --netns, a table nftables refused.
  // Reported in the node's instance check.
  std::string Problem() const;

  void OnRegistered(const gantry::v1::Registered& registered);
  void OnDesired(const gantry::v1::DesiredTasks& desired);

  // Rewrites the table from what is known now (a no-op when nothing
  // changed); Unavailable before the first desired set or when nftables
  // refused it.
  absl::Status RefreshFirewall();

 private:
  class Firewalled final : public TaskNetwork {
   public:
    explicit Firewalled(NodeNetwork* owner) : owner_(owner) {}
    absl::StatusOr<TaskAttachment> Attach(const std::string& task_id,
                                          const std::vector<MappedPort>& ports) override;
    absl::Status Check(const std::string& task_id) override;
    absl::Status Detach(const std::string& task_id) override;
    std::vector<std::string> Attached() const override;
    std::optional<TaskAttachment> Find(const std::string& task_id) const override;

   private:
    NodeNetwork* const owner_;
  };
  struct TaskRules {
    std::string service;
    std::vector<uint32_t> published;
  };

  void ApplyRoutes(const gantry::v1::DesiredTasks& desired);

  const Options options_;
  std::unique_ptr<CniExec> exec_;
  std::unique_ptr<NodeRoutes> routes_;
  std::unique_ptr<NodeFirewall> firewall_;
  CniNetwork tasks_;
  Firewalled firewalled_{this};

  mutable std::mutex mu_;
  std::string firewall_error_;
  std::optional<Ipv4Cidr> cidr_;
  std::string task_cidr_;
  bool have_desired_ = false;                    // a desired set arrived in this process
  std::map<std::string, TaskRules> task_rules_;  // by task id
  std::vector<gantry::v1::ServiceIngress> ingress_;
  std::vector<gantry::v1::ServiceAddresses> addresses_;
  std::vector<gantry::v1::NetworkAcl> network_acls_;

  std::mutex firewall_mu_;                       // held while nft runs
  std::map<std::string, std::string> attached_;  // task id -> address
  bool attached_loaded_ = false;
  std::string applied_script_;  // "" when the table is not ours yet
  std::mutex routes_mu_;        // held while `ip` runs
  std::vector<Route> applied_;
  bool routes_applied_ = false;
};

}  // namespace gantry::agent
