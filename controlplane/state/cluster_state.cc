#include "controlplane/state/cluster_state.h"

#include <algorithm>
#include <chrono>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/spec/validation.h"
#include "controlplane/state/keys.h"
#include "controlplane/store/list_watch.h"
#include "controlplane/store/txn_batches.h"

namespace gantry::state {

using gantry::v1::Node;
using gantry::v1::Service;
using gantry::v1::Task;
using gantry::v1::TaskDefinition;

bool HoldsResources(const Task& task) {
  return task.last_status() != Task::STOPPED && task.last_status() != Task::LOST;
}

std::string FailingCheck(const Node& node) {
  for (const auto& c : node.checks()) {
    if (!c.passed()) return absl::StrCat("failing ", c.name(), " check: ", c.message());
  }
  return "";
}

ClusterState::ClusterState(store::Store* store) : store_(store) {}

ClusterState::~ClusterState() { watch_.reset(); }

void ClusterState::AddListener(Listener listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.push_back(std::move(listener));
}

absl::Status ClusterState::Start() {
  auto watch = store::ListAndWatch(
      store_, kRoot, [this](const std::vector<store::Event>& events, bool replace_all) {
        Change change;
        bool initial = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          initial = !loaded_;
          loaded_ = true;
          if (replace_all) Clear(change);
          Apply(events, change);
        }
        applied_.notify_all();
        if (initial) return;
        std::lock_guard<std::mutex> lock(listeners_mu_);
        for (const auto& l : listeners_) l(change);
      });
  if (!watch.ok()) return watch.status();
  watch_ = std::move(*watch);
  // The store's lock is never taken under mu_: a delivery holds the store's
  // notification lock while it takes mu_ (found by ThreadSanitizer).
  const int64_t revision = store_->Revision();
  size_t services = 0, nodes = 0, tasks = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    services = services_.size();
    nodes = nodes_.size();
    tasks = tasks_.size();
  }
  spdlog::info("state loaded at revision {}: {} services, {} nodes, {} tasks", revision, services,
               nodes, tasks);
  return absl::OkStatus();
}

void ClusterState::Clear(Change& change) {
  // Everything the cache held counts as changed: listeners look again.
  for (const auto& [name, s] : services_) {
    change.services.insert(name);
    change.service_records.insert(name);
    change.addresses.insert(name);
  }
  for (const auto& [name, n] : nodes_) change.nodes.insert(name);
  change.node_records = true;
  change.network_acls = true;
  network_acls_.clear();
  taskdefs_.clear();
  services_.clear();
  nodes_.clear();
  tasks_.clear();
  tasks_by_service_.clear();
  tasks_by_node_.clear();
  table_ = scheduler::NodeTable();
}

void ClusterState::AddUsage(const Task& task, int sign) {
  if (!HoldsResources(task) || task.node().empty()) return;
  scheduler::NodeRecord& u = table_.Upsert(task.node());
  u.cpu_allocated += sign * task.resources().cpu();
  u.memory_allocated += sign * task.resources().memory();
  u.tasks += sign;
  for (const auto& p : task.ports()) {
    if ((u.ports[p.host_port()] += sign) <= 0) u.ports.erase(p.host_port());
  }
}

namespace {
// The address a task contributes to its service's address set ("" none).
const std::string& ListedAddress(const Task& t) {
  static const std::string kNone;
  const bool stopped = t.last_status() == Task::STOPPED || t.last_status() == Task::LOST;
  return stopped ? kNone : t.address();
}
}  // namespace

void ClusterState::ApplyTask(const std::string& id, const Task* task, int64_t rev, Change& change) {
  auto it = tasks_.find(id);
  {
    const std::string& before = it != tasks_.end() ? ListedAddress(it->second.value) : "";
    const std::string& after = task != nullptr ? ListedAddress(*task) : "";
    if (before != after) {
      if (it != tasks_.end()) change.addresses.insert(it->second.value.service());
      if (task != nullptr) change.addresses.insert(task->service());
    }
  }
  if (it != tasks_.end()) {
    const Task& old = it->second.value;
    AddUsage(old, -1);
    change.services.insert(old.service());
    if (!old.node().empty()) change.nodes.insert(old.node());
    tasks_by_service_[old.service()].erase(id);
    if (!old.node().empty()) tasks_by_node_[old.node()].erase(id);
  }
  if (task == nullptr) {
    if (it != tasks_.end()) tasks_.erase(it);
    return;
  }
  AddUsage(*task, +1);
  change.services.insert(task->service());
  if (!task->node().empty()) change.nodes.insert(task->node());
  tasks_by_service_[task->service()].insert(id);
  if (!task->node().empty()) tasks_by_node_[task->node()].insert(id);
  tasks_[id] = Versioned<Task>{*task, rev};
}

void ClusterState::Apply(const std::vector<store::Event>& events, Change& change) {
  for (const auto& e : events) {
    const std::string& key = e.kv.key;
    const bool put = e.type == store::Event::Type::kPut;
    const int64_t rev = e.kv.mod_revision;
    if (absl::StartsWith(key, kTaskPrefix)) {
      const std::string id = key.substr(sizeof(kTaskPrefix) - 1);
      Task task;
      if (put && !task.ParseFromString(e.kv.value)) {
        spdlog::error("state: cannot decode {}; ignoring it", key);
        continue;
      }
      ApplyTask(id, put ? &task : nullptr, rev, change);
    } else if (absl::StartsWith(key, kServicePrefix)) {
      const std::string name = key.substr(sizeof(kServicePrefix) - 1);
      change.services.insert(name);
      change.service_records.insert(name);
      if (!put) {
        services_.erase(name);
        continue;
      }
      Service s;
      if (!s.ParseFromString(e.kv.value)) {
        spdlog::error("state: cannot decode {}; ignoring it", key);
        continue;
      }
      services_[name] = Versioned<Service>{std::move(s), rev};
    } else if (absl::StartsWith(key, kNodePrefix)) {
      const std::string name = key.substr(sizeof(kNodePrefix) - 1);
      change.nodes.insert(name);
      change.node_records = true;
      if (!put) {
        nodes_.erase(name);
        table_.Remove(name);
        continue;
      }
      Node n;
      if (!n.ParseFromString(e.kv.value)) {
        spdlog::error("state: cannot decode {}; ignoring it", key);
        continue;
      }
      scheduler::NodeRecord& r = table_.Upsert(name);
      r.zone = n.zone();
      r.attributes =
          std::map<std::string, std::string>(n.attributes().begin(), n.attributes().end());
      r.status = n.status();
      r.unhealthy = FailingCheck(n);
      r.cpu_capacity = n.capacity().cpu();
      r.memory_capacity = n.capacity().memory();
      r.port_range_start = n.port_range_start();
      r.port_range_end = n.port_range_end();
      nodes_[name] = Versioned<Node>{std::move(n), rev};
    } else if (absl::StartsWith(key, kNetworkAclPrefix)) {
      const std::string name = key.substr(sizeof(kNetworkAclPrefix) - 1);
      change.network_acls = true;
      gantry::v1::NetworkAcl acl;
      if (!put) {
        network_acls_.erase(name);
      } else if (acl.ParseFromString(e.kv.value)) {
        network_acls_[name] = Versioned<gantry::v1::NetworkAcl>{std::move(acl), rev};
      } else {
        spdlog::error("state: cannot decode {}; ignoring it", key);
      }
    } else if (absl::StartsWith(key, kTaskDefPrefix)) {
      if (!put) {
        // FAMILY/0000000003: an old revision was forgotten.
        const std::string rest = key.substr(sizeof(kTaskDefPrefix) - 1);
        const size_t slash = rest.rfind('/');
        int64_t revision = 0;
        if (slash == std::string::npos || !absl::SimpleAtoi(rest.substr(slash + 1), &revision)) {
          continue;
        }
        auto family = taskdefs_.find(rest.substr(0, slash));
        if (family == taskdefs_.end()) continue;
        family->second.erase(revision);
        if (family->second.empty()) taskdefs_.erase(family);
        continue;
      }
      TaskDefinition td;
      if (!td.ParseFromString(e.kv.value)) continue;
      taskdefs_[td.family()][td.revision()] = std::move(td);
    }
  }
}

std::optional<TaskDefinition> ClusterState::GetTaskDefinition(const std::string& family,
                                                              int64_t revision) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto f = taskdefs_.find(family);
  if (f == taskdefs_.end() || f->second.empty()) return std::nullopt;
  if (revision == 0) return f->second.rbegin()->second;
  auto r = f->second.find(revision);
  if (r == f->second.end()) return std::nullopt;
  return r->second;
}

std::optional<TaskDefinition> ClusterState::ResolveTaskDefinition(const std::string& ref) const {
  auto parsed = spec::ParseTaskDefinitionRef(ref);
  if (!parsed.ok()) return std::nullopt;
  return GetTaskDefinition(parsed->family, parsed->revision);
}

std::vector<TaskDefinition> ClusterState::ListTaskDefinitions(const std::string& family) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TaskDefinition> out;
  for (const auto& [name, revisions] : taskdefs_) {
    if (!family.empty() && name != family) continue;
    for (const auto& [rev, td] : revisions) out.push_back(td);
  }
  return out;
}

Service ClusterState::WithCounts(const Service& service) const {
  Service out = service;
  int running = 0;
  int pending = 0;
  if (auto it = tasks_by_service_.find(service.name()); it != tasks_by_service_.end()) {
    for (const auto& id : it->second) {
      const Task& t = tasks_.at(id).value;
      if (t.desired_status() != Task::RUNNING) continue;
      if (t.last_status() == Task::RUNNING) running++;
      if (t.last_status() == Task::PENDING) pending++;
    }
  }
  out.set_running_count(running);
  out.set_pending_count(pending);
  return out;
}

std::optional<Versioned<Service>> ClusterState::GetService(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(name);
  if (it == services_.end()) return std::nullopt;
  return Versioned<Service>{WithCounts(it->second.value), it->second.mod_revision};
}

std::vector<Service> ClusterState::ListServices() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Service> out;
  for (const auto& [name, s] : services_) out.push_back(WithCounts(s.value));
  return out;
}

std::optional<Versioned<gantry::v1::NetworkAcl>> ClusterState::GetNetworkAcl(
    const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = network_acls_.find(name);
  if (it == network_acls_.end()) return std::nullopt;
  return it->second;
}

std::vector<gantry::v1::NetworkAcl> ClusterState::ListNetworkAcls() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<gantry::v1::NetworkAcl> out;
  for (const auto& [name, acl] : network_acls_) out.push_back(acl.value);
  return out;
}

Node ClusterState::WithUsage(const Node& node) const {
  Node out = node;
  if (auto i = table_.Find(node.name())) {
    const auto& r = table_.nodes()[*i];
    out.mutable_allocated()->set_cpu(r.cpu_allocated);
    out.mutable_allocated()->set_memory(r.memory_allocated);
    out.set_running_tasks(r.tasks);
  }
  return out;
}

std::optional<Versioned<Node>> ClusterState::GetNode(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return std::nullopt;
  return Versioned<Node>{WithUsage(it->second.value), it->second.mod_revision};
}

std::vector<Node> ClusterState::ListNodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Node> out;
  for (const auto& [name, n] : nodes_) out.push_back(WithUsage(n.value));
  return out;
}

std::optional<Versioned<Task>> ClusterState::GetTask(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Task> ClusterState::FindTask(const std::string& id_prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = tasks_.find(id_prefix); it != tasks_.end()) return it->second.value;
  const Task* found = nullptr;
  int matches = 0;
  for (const auto& [id, t] : tasks_) {
    if (!id_prefix.empty() && absl::StartsWith(id, id_prefix)) {
      found = &t.value;
      matches++;
    }
  }
  if (matches == 0) {
    return absl::NotFoundError(absl::StrCat("task ", id_prefix,
                                            " not found (list tasks with "
                                            "`gantryctl get tasks`)"));
  }
  if (matches > 1) {
    return absl::InvalidArgumentError(absl::StrCat("task id prefix ", id_prefix, " matches ",
                                                   matches, " tasks; give more of it"));
  }
  return *found;
}

void ClusterState::ForEachTask(const std::function<void(const Task&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, t] : tasks_) fn(t.value);
}

std::vector<Task> ClusterState::ListTasks(const TaskFilter& filter) const {
  std::lock_guard<std::mutex> lock(mu_);
  // Sort keys and pointers, and copy only the page.
  std::vector<std::pair<TaskOrderKey, const Task*>> selected;
  auto consider = [&](const Task& t) {
    if (!filter.service.empty() && t.service() != filter.service) return;
    if (!filter.node.empty() && t.node() != filter.node) return;
    if (!filter.include_stopped &&
        (t.last_status() == Task::STOPPED || t.last_status() == Task::LOST)) {
      return;
    }
    TaskOrderKey key = TaskOrderKey::Of(t);
    if (filter.after && !(*filter.after < key)) return;
    selected.emplace_back(std::move(key), &t);
  };
  if (!filter.service.empty()) {
    if (auto it = tasks_by_service_.find(filter.service); it != tasks_by_service_.end()) {
      for (const auto& id : it->second) consider(tasks_.at(id).value);
    }
  } else if (!filter.node.empty()) {
    if (auto it = tasks_by_node_.find(filter.node); it != tasks_by_node_.end()) {
      for (const auto& id : it->second) consider(tasks_.at(id).value);
    }
  } else {
    for (const auto& [id, t] : tasks_) consider(t.value);
  }
  const size_t count =
      filter.limit == 0 ? selected.size() : std::min(filter.limit, selected.size());
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::partial_sort(selected.begin(), selected.begin() + count, selected.end(), by_key);
  std::vector<Task> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(*selected[i].second);
  return out;
}

void ClusterState::ForEachTaskOf(const std::string& service,
                                 const std::function<void(const Task&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_by_service_.find(service);
  if (it == tasks_by_service_.end()) return;
  for (const auto& id : it->second) fn(tasks_.at(id).value);
}

void ClusterState::WithPlacementView(
    const std::string& service,
    const std::function<void(const scheduler::NodeTable&, const scheduler::ServiceLoad&)>& fn)
    const {
  std::lock_guard<std::mutex> lock(mu_);
  scheduler::ServiceLoad load;
  if (auto it = tasks_by_service_.find(service); it != tasks_by_service_.end()) {
    for (const auto& id : it->second) {
      const Task& t = tasks_.at(id).value;
      if (!HoldsResources(t) || t.desired_status() != Task::RUNNING) continue;
      if (auto i = table_.Find(t.node())) load[*i]++;
    }
  }
  fn(table_, load);
}

absl::StatusOr<store::TxnResult> ClusterState::Commit(const store::TxnRequest& request) {
  return store_->Txn(request);
}

absl::StatusOr<store::TxnResult> ClusterState::CommitEach(const store::TxnRequest& request) {
  return store::CommitInBatches(store_, request);
}

int64_t ClusterState::CachedModRevision(const std::string& key) const {
  auto find = [&](const auto& map, const char* prefix) -> int64_t {
    auto it = map.find(key.substr(std::string_view(prefix).size()));
    return it == map.end() ? 0 : it->second.mod_revision;
  };
  if (absl::StartsWith(key, kTaskPrefix)) return find(tasks_, kTaskPrefix);
  if (absl::StartsWith(key, kServicePrefix)) return find(services_, kServicePrefix);
  if (absl::StartsWith(key, kNodePrefix)) return find(nodes_, kNodePrefix);
  if (absl::StartsWith(key, kNetworkAclPrefix)) return find(network_acls_, kNetworkAclPrefix);
  return 0;
}

template <typename T>
absl::Status ClusterState::UpdateObject(const std::string& key,
                                        const std::function<bool(T&)>& mutate,
                                        const std::function<std::optional<Versioned<T>>()>& get) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto current = get();
    if (!current) return absl::NotFoundError(absl::StrCat(key, " not found"));
    T value = current->value;
    if (!mutate(value)) return absl::OkStatus();
    store::TxnRequest txn;
    txn.compares.push_back({key, current->mod_revision});
    txn.ops.push_back(store::Op::Put(key, value.SerializeAsString()));
    auto result = store_->Txn(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) return absl::OkStatus();
    // Someone else wrote the object first (another control plane, or a
    // write our watch has not delivered yet): wait for the cache to hold
    // that write before mutating again.
    auto fresh = store_->Get(key);
    if (!fresh.ok()) return fresh.status();
    if (!fresh->has_value()) return absl::NotFoundError(absl::StrCat(key, " not found"));
    const int64_t wanted = (*fresh)->mod_revision;
    std::unique_lock<std::mutex> lock(mu_);
    applied_.wait_for(lock, std::chrono::seconds(5),
                      [&] { return CachedModRevision(key) >= wanted; });
  }
  return absl::AbortedError(absl::StrCat("update ", key, ": too many concurrent changes"));
}

absl::Status ClusterState::UpdateTask(const std::string& id,
                                      const std::function<bool(Task&)>& mutate) {
  return UpdateObject<Task>(TaskKey(id), mutate, [&] { return GetTask(id); });
}

absl::Status ClusterState::UpdateService(const std::string& name,
                                         const std::function<bool(Service&)>& mutate) {
  // Computed counts are never stored.
  auto strip = [&](Service& s) {
    if (!mutate(s)) return false;
    s.clear_running_count();
    s.clear_pending_count();
    return true;
  };
  return UpdateObject<Service>(ServiceKey(name), strip, [&] { return GetService(name); });
}

absl::Status ClusterState::UpdateNode(const std::string& name,
                                      const std::function<bool(Node&)>& mutate) {
  auto strip = [&](Node& n) {
    if (!mutate(n)) return false;
    n.clear_allocated();
    n.clear_running_tasks();
    return true;
  };
  return UpdateObject<Node>(NodeKey(name), strip, [&] { return GetNode(name); });
}

}  // namespace gantry::state
