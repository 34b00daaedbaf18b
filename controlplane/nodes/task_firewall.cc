#include "controlplane/nodes/task_firewall.h"

#include <algorithm>

#include "common/spec/network_rules.h"
#include "common/spec/validation.h"

namespace gantry::nodes {

using gantry::v1::Service;

namespace {

bool Stopped(const gantry::v1::Task& t) {
  return t.last_status() == gantry::v1::Task::STOPPED || t.last_status() == gantry::v1::Task::LOST;
}

void AddNodesOf(const state::ClusterState& state, const std::string& service,
                std::set<std::string>& out) {
  state.ForEachTaskOf(service, [&](const gantry::v1::Task& t) {
    if (!Stopped(t) && !t.node().empty()) out.insert(t.node());
  });
}

std::string RulesOf(const state::ClusterState& state, const std::string& service) {
  const auto s = state.GetService(service);
  if (!s) return "";
  std::string out;
  for (const auto& r : s->value.ingress()) out += r.SerializeAsString() + "\n";
  return out;
}

}  // namespace

std::vector<std::string> ServiceAddresses(const state::ClusterState& state,
                                          const std::string& service) {
  std::vector<std::string> out;
  state.ForEachTaskOf(service, [&](const gantry::v1::Task& t) {
    if (!Stopped(t) && !t.address().empty()) out.push_back(t.address());
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void AddFirewall(const state::ClusterState& state, const std::string& node,
                 gantry::v1::DesiredTasks& desired) {
  // The services of every task-networked task the node still runs, those
  // stopping too: a task keeps its rules while it drains.
  std::set<std::string> services;
  for (const auto& a : desired.tasks()) {
    if (a.network_mode() == "task") services.insert(a.service());
  }
  for (const auto& t : state.ListTasks({.node = node})) {
    if (t.desired_status() == gantry::v1::Task::RUNNING || services.contains(t.service())) continue;
    auto td = state.ResolveTaskDefinition(t.task_definition());
    if (td && spec::NetworkModeOf(*td) == "task") services.insert(t.service());
  }
  // The ACLs go to every node: its stopping tasks stay behind them.
  for (auto& acl : state.ListNetworkAcls()) {
    acl.clear_created_at();
    acl.clear_updated_at();
    *desired.add_network_acls() = std::move(acl);
  }
  if (services.empty()) return;
  std::set<std::string> named;
  for (const auto& name : services) {
    Service service;
    if (auto s = state.GetService(name)) {
      service = std::move(s->value);
    } else {
      service.set_name(name);  // deleted: its tasks still accept each other
    }
    auto* ingress = desired.add_ingress();
    ingress->set_service(name);
    for (auto& rule : spec::EffectiveIngress(service)) {
      if (!rule.from_service().empty()) named.insert(rule.from_service());
      *ingress->add_rules() = std::move(rule);
    }
  }
  for (const auto& name : named) {
    auto* set = desired.add_addresses();
    set->set_service(name);
    for (auto& address : ServiceAddresses(state, name)) set->add_addresses(std::move(address));
  }
}

std::set<std::string> IngressTracker::NodesToUpdate(const state::ClusterState& state,
                                                    const state::Change& change) {
  std::set<std::string> out;
  if (change.network_acls) {
    for (const auto& n : state.ListNodes()) out.insert(n.name());
    return out;
  }
  std::set<std::string> moved;  // services whose addresses changed
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& service : change.services) {
      auto addresses = ServiceAddresses(state, service);
      auto& known = addresses_[service];
      if (addresses != known) {
        known = std::move(addresses);
        moved.insert(service);
      }
      std::string rules = RulesOf(state, service);
      auto& known_rules = rules_[service];
      if (rules != known_rules) {
        known_rules = std::move(rules);
        AddNodesOf(state, service, out);
      }
      if (known.empty() && known_rules.empty()) {
        addresses_.erase(service);
        rules_.erase(service);
      }
    }
  }
  if (moved.empty()) return out;
  // Its own nodes even when it is gone (its draining tasks name it).
  for (const auto& service : moved) AddNodesOf(state, service, out);
  for (const auto& s : state.ListServices()) {
    bool names_moved = moved.contains(s.name());
    for (const auto& r : s.ingress()) names_moved |= moved.contains(r.from_service());
    if (names_moved) AddNodesOf(state, s.name(), out);
  }
  return out;
}

}  // namespace gantry::nodes
