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

void IngressTracker::Index(const std::string& service, const gantry::v1::Service* record) {
  for (const auto& named : names_[service]) named_by_[named].erase(service);
  names_.erase(service);
  rules_.erase(service);
  if (record == nullptr) return;
  std::string rules;
  for (const auto& r : record->ingress()) {
    rules += r.SerializeAsString() + "\n";
    if (!r.from_service().empty()) {
      names_[service].insert(r.from_service());
      named_by_[r.from_service()].insert(service);
    }
  }
  if (!rules.empty()) rules_[service] = std::move(rules);
}

std::set<std::string> IngressTracker::NodesToUpdate(const state::ClusterState& state,
                                                    const state::Change& change) {
  std::set<std::string> out;
  if (change.network_acls) {
    for (const auto& n : state.ListNodes()) out.insert(n.name());
    return out;
  }
  if (change.service_records.empty() && change.addresses.empty()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  if (!indexed_) {
    for (const auto& s : state.ListServices()) Index(s.name(), &s);
    indexed_ = true;
  }
  for (const auto& service : change.service_records) {
    const auto record = state.GetService(service);
    const auto before = rules_.find(service);
    const std::string old_rules = before == rules_.end() ? "" : before->second;
    Index(service, record ? &record->value : nullptr);
    const auto after = rules_.find(service);
    if ((after == rules_.end() ? "" : after->second) != old_rules) {
      AddNodesOf(state, service, out);
    }
  }
  for (const auto& service : change.addresses) {
    AddNodesOf(state, service, out);  // it names itself, gone or not
    if (auto it = named_by_.find(service); it != named_by_.end()) {
      for (const auto& dependent : it->second) AddNodesOf(state, dependent, out);
    }
  }
  return out;
}

}  // namespace gantry::nodes
