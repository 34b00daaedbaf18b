#pragma once

// The firewall part of each node's desired set: what the services with
// tasks on the node accept (their effective ingress rules), the task
// addresses of every service those rules name, resolved cluster-wide, and
// the cluster's network ACLs. The agent turns them into its nftables
// table; rules follow tasks because a change of a service's addresses
// makes every node that enforces a rule naming it owed a new set
// (IngressTracker).

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::nodes {

// The sorted, distinct task addresses of the service's tasks that are not
// stopped (a task stopping still answers its connections).
std::vector<std::string> ServiceAddresses(const state::ClusterState& state,
                                          const std::string& service);

// Fills `desired`'s ingress, addresses and network_acls for the services of
// the task-networked tasks `node` runs (stopping ones too).
void AddFirewall(const state::ClusterState& state, const std::string& node,
                 gantry::v1::DesiredTasks& desired);

// Which nodes' desired sets a committed change touches through the
// firewall: all of them when a network ACL changed; for a service whose
// ingress rules changed, the nodes with its tasks; for a service whose
// task addresses changed (Change::addresses), the nodes with its tasks and
// those with tasks of every service whose rules name it. Keeps an index
// from each named service to the services naming it, so a task start
// costs the nodes it touches, not a scan of every service. Thread-safe.
class IngressTracker {
 public:
  std::set<std::string> NodesToUpdate(const state::ClusterState& state,
                                      const state::Change& change);

 private:
  // With mu_ held: `service`'s rules as `record` has them (null: gone).
  void Index(const std::string& service, const gantry::v1::Service* record);

  std::mutex mu_;
  bool indexed_ = false;
  std::map<std::string, std::string> rules_;               // serialized ingress
  std::map<std::string, std::set<std::string>> names_;     // service -> named
  std::map<std::string, std::set<std::string>> named_by_;  // named -> services
};

}  // namespace gantry::nodes
