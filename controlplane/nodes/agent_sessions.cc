#include "controlplane/nodes/agent_sessions.h"

#include <utility>
#include <vector>

#include "common/desired_parts.h"
#include "common/log.h"
#include "common/spec/validation.h"
#include "controlplane/nodes/task_firewall.h"

namespace gantry::nodes {

using gantry::v1::Task;

gantry::v1::DesiredTasks BuildDesiredTasks(const state::ClusterState& state,
                                           const std::string& node) {
  gantry::v1::DesiredTasks desired;
  // Read the revision first: the set below reflects at least this revision.
  desired.set_sequence(state.store()->Revision());
  for (const auto& t : state.ListTasks({.node = node})) {
    if (t.desired_status() != Task::RUNNING) continue;
    auto td = state.ResolveTaskDefinition(t.task_definition());
    if (!td) {
      spdlog::error("task {} names missing task definition {}", t.id(), t.task_definition());
      continue;
    }
    auto* a = desired.add_tasks();
    a->set_task_id(t.id());
    a->set_service(t.service());
    a->set_task_definition(t.task_definition());
    *a->mutable_containers() = td->containers();
    *a->mutable_ports() = t.ports();
    *a->mutable_secret_versions() = t.secret_versions();
    for (const auto& cs : t.containers()) {
      if (!cs.image_digest().empty()) (*a->mutable_image_digests())[cs.name()] = cs.image_digest();
    }
    a->set_network_mode(spec::NetworkModeOf(*td));
  }
  for (const auto& n : state.ListNodes()) {
    if (n.name() == node || n.task_subnet().empty() || n.address().empty()) continue;
    auto* route = desired.add_routes();
    route->set_subnet(n.task_subnet());
    route->set_via(n.address());
  }
  AddFirewall(state, node, desired);
  return desired;
}

AgentSessions::AgentSessions(const state::ClusterState* state) : state_(state) {}

void AgentSessions::Attach(const std::string& node, std::shared_ptr<AgentConnection> connection,
                           absl::Time now) {
  std::shared_ptr<AgentConnection> replaced;
  {
    MutexLock lock(&mu_);
    auto& current = connections_[node];
    replaced = std::exchange(current, connection);
    last_heard_[node] = now;
  }
  if (replaced && replaced != connection) {
    spdlog::warn("node {}: a new agent connection replaces the previous one", node);
    replaced->Close();
  }
}

bool AgentSessions::Detach(const std::string& node, const AgentConnection* connection,
                           absl::Time now) {
  MutexLock lock(&mu_);
  auto it = connections_.find(node);
  if (it == connections_.end() || it->second.get() != connection) return false;
  connections_.erase(it);
  last_heard_[node] = now;
  return true;
}

void AgentSessions::Heard(const std::string& node, absl::Time now) {
  MutexLock lock(&mu_);
  last_heard_[node] = now;
}

std::shared_ptr<AgentConnection> AgentSessions::Connection(const std::string& node) const {
  MutexLock lock(&mu_);
  auto it = connections_.find(node);
  return it == connections_.end() ? nullptr : it->second;
}

bool AgentSessions::IsConnected(const std::string& node) const {
  MutexLock lock(&mu_);
  return connections_.contains(node);
}

absl::Time AgentSessions::LastHeard(const std::string& node) const {
  MutexLock lock(&mu_);
  auto it = last_heard_.find(node);
  return it == last_heard_.end() ? absl::UnixEpoch() : it->second;
}

void AgentSessions::MarkDirty(const std::set<std::string>& nodes) {
  MutexLock lock(&mu_);
  dirty_.insert(nodes.begin(), nodes.end());
}

void AgentSessions::PushDirty() {
  std::vector<std::pair<std::string, std::shared_ptr<AgentConnection>>> targets;
  {
    MutexLock lock(&mu_);
    for (const auto& node : dirty_) {
      if (auto it = connections_.find(node); it != connections_.end()) {
        targets.emplace_back(node, it->second);
      }
    }
    dirty_.clear();
  }
  for (const auto& [node, connection] : targets) {
    gantry::v1::DesiredTasks desired = BuildDesiredTasks(*state_, node);
    desired.set_epoch(epoch_.load());
    for (auto& part : SplitDesiredTasks(std::move(desired))) {
      gantry::v1::ControlMessage msg;
      *msg.mutable_desired() = std::move(part);
      connection->Send(msg);
    }
  }
}

}  // namespace gantry::nodes
