#pragma once

// The control plane's view of the cluster: typed access to the objects in the
// Store plus an in-memory cache with the indexes controllers need (tasks by
// service and by node, resources allocated per node).
//
// The cache is filled once by Start() and then kept current solely by a
// store watch, so it never disagrees with what was committed, and an etcd
// backend shared by several control planes would keep it current too.
// Because the store delivers this process's watch events before Txn returns
// (an etcd store waits for them), a caller that committed a change sees it
// in the cache right after. A compare-and-swap that lost to another writer
// (another control plane on the same etcd) waits for the cache to hold that
// writer's value before it tries again. When an etcd watch lost history, the
// cache is rebuilt from a fresh listing and listeners hear that everything
// changed.
//
// Writes are compare-and-swap transactions on the object's mod_revision; the
// Update* helpers retry on conflict with the fresh cached value.
//
// Thread safety: all methods are thread-safe. Listeners run on the thread
// that committed the change, one at a time; they must be quick and must not
// write to the state.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "controlplane/scheduler/node_table.h"
#include "controlplane/scheduler/placement.h"
#include "controlplane/store/store.h"
#include "gantry/v1/types.pb.h"

namespace gantry::state {

template <typename T>
struct Versioned {
  T value;
  int64_t mod_revision = 0;
};

// What one committed revision touched.
struct Change {
  std::set<std::string> services;         // services whose record or tasks changed
  std::set<std::string> nodes;            // nodes whose record or task set changed
  bool node_records = false;              // a node record itself changed
  bool network_acls = false;              // a network ACL was applied or deleted
  std::set<std::string> service_records;  // services whose own record changed
  // Services a task of which gained or lost a task address (or stopped
  // with one): what their security-group address sets are made of.
  std::set<std::string> addresses;
};

// True while a task holds cpu, memory and ports on its node.
bool HoldsResources(const gantry::v1::Task& task);

// Why a node fails its instance or storage check ("instance check: ..."),
// or "" when it passes them.
std::string FailingCheck(const gantry::v1::Node& node);

class ClusterState {
 public:
  using Listener = std::function<void(const Change&)>;

  explicit ClusterState(store::Store* store);
  ~ClusterState();
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // Loads everything and starts following the store. Call once, before use.
  absl::Status Start();
  // Listeners added before Start() also see nothing for the initial load.
  void AddListener(Listener listener);

  store::Store* store() const { return store_; }

  // --- Reads: copies, consistent at the moment of the call.
  // revision 0 = the family's latest.
  std::optional<gantry::v1::TaskDefinition> GetTaskDefinition(const std::string& family,
                                                              int64_t revision) const;
  // Parses "web" or "web:3".
  std::optional<gantry::v1::TaskDefinition> ResolveTaskDefinition(const std::string& ref) const;
  std::vector<gantry::v1::TaskDefinition> ListTaskDefinitions(const std::string& family) const;

  std::optional<Versioned<gantry::v1::Service>> GetService(const std::string& name) const;
  std::vector<gantry::v1::Service> ListServices() const;

  std::optional<Versioned<gantry::v1::Node>> GetNode(const std::string& name) const;
  std::vector<gantry::v1::Node> ListNodes() const;

  std::optional<Versioned<gantry::v1::NetworkAcl>> GetNetworkAcl(const std::string& name) const;
  std::vector<gantry::v1::NetworkAcl> ListNetworkAcls() const;  // by name

  std::optional<Versioned<gantry::v1::Task>> GetTask(const std::string& id) const;
  // Looks a task up by a unique id prefix; NotFound or InvalidArgument
  // (ambiguous) otherwise.
  absl::StatusOr<gantry::v1::Task> FindTask(const std::string& id_prefix) const;
  // Where a task sorts in ListTasks: by service, creation time and id.
  struct TaskOrderKey {
    std::string service;
    int64_t seconds = 0;
    int32_t nanos = 0;
    std::string id;
    static TaskOrderKey Of(const gantry::v1::Task& t) {
      return {t.service(), t.created_at().seconds(), t.created_at().nanos(), t.id()};
    }
    auto operator<=>(const TaskOrderKey&) const = default;
  };
  struct TaskFilter {
    std::string service;
    std::string node;
    // STOPPED and LOST tasks are left out unless this is set.
    bool include_stopped = false;
    // A page: only tasks sorting after `after`, at most `limit` (0: all).
    std::optional<TaskOrderKey> after;
    size_t limit = 0;
  };
  // The tasks `filter` selects, in TaskOrderKey order.
  std::vector<gantry::v1::Task> ListTasks(const TaskFilter& filter) const;
  // Calls `fn` for every task (stopped ones too) under the state lock, in no
  // particular order and without copying: for readers of many tasks, such as
  // metrics scrapes. `fn` must be quick and must not call into ClusterState.
  void ForEachTask(const std::function<void(const gantry::v1::Task&)>& fn) const;
  // The same for one service's tasks, through its index.
  void ForEachTaskOf(const std::string& service,
                     const std::function<void(const gantry::v1::Task&)>& fn) const;

  // Runs `fn` under the state lock with the node table and the service's
  // tasks per node (those holding resources), the placement core's input.
  // `fn` must not call back into ClusterState.
  void WithPlacementView(const std::string& service,
                         const std::function<void(const scheduler::NodeTable&,
                                                  const scheduler::ServiceLoad&)>& fn) const;

  // --- Writes.
  // One transaction, all or nothing; refused whole when it is larger than
  // the store allows (etcd: 128 ops, 1.5 MiB).
  absl::StatusOr<store::TxnResult> Commit(const store::TxnRequest& request);
  // For writes that stand alone, each op with at most its own key's
  // comparisons (a batch of new tasks, deletions of stopped ones): as many
  // transactions as the store's limits need, in order. Succeeded only if
  // every one did; the first failure ends it.
  absl::StatusOr<store::TxnResult> CommitEach(const store::TxnRequest& request);
  // Read-modify-write with retries. `mutate` returns false to write nothing.
  // NotFound if the object does not exist.
  absl::Status UpdateTask(const std::string& id,
                          const std::function<bool(gantry::v1::Task&)>& mutate);
  absl::Status UpdateService(const std::string& name,
                             const std::function<bool(gantry::v1::Service&)>& mutate);
  absl::Status UpdateNode(const std::string& name,
                          const std::function<bool(gantry::v1::Node&)>& mutate);

 private:
  void Apply(const std::vector<store::Event>& events, Change& change);
  // Empties the cache; `change` names everything it held.
  void Clear(Change& change);
  // The cached object's mod_revision for a task, service or node key; 0 if
  // absent. With mu_ held.
  int64_t CachedModRevision(const std::string& key) const;
  void ApplyTask(const std::string& id, const gantry::v1::Task* task, int64_t rev, Change& change);
  void AddUsage(const gantry::v1::Task& task, int sign);
  gantry::v1::Service WithCounts(const gantry::v1::Service& service) const;
  gantry::v1::Node WithUsage(const gantry::v1::Node& node) const;
  template <typename T>
  absl::Status UpdateObject(const std::string& key, const std::function<bool(T&)>& mutate,
                            const std::function<std::optional<Versioned<T>>()>& get);

  store::Store* const store_;
  std::unique_ptr<store::WatchHandle> watch_;

  mutable std::mutex mu_;
  std::condition_variable applied_;  // notified after each watch batch
  bool loaded_ = false;              // the initial listing was applied
  std::map<std::string, std::map<int64_t, gantry::v1::TaskDefinition>> taskdefs_;
  std::map<std::string, Versioned<gantry::v1::Service>> services_;
  std::map<std::string, Versioned<gantry::v1::Node>> nodes_;
  std::map<std::string, Versioned<gantry::v1::NetworkAcl>> network_acls_;
  absl::flat_hash_map<std::string, Versioned<gantry::v1::Task>> tasks_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> tasks_by_service_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> tasks_by_node_;
  // Nodes with what is allocated on them, kept current with every change.
  scheduler::NodeTable table_;

  std::mutex listeners_mu_;
  std::vector<Listener> listeners_;
};

}  // namespace gantry::state
