#pragma once

// The placement core: a pure function from the node table, the service's
// current tasks and a request for N identical tasks to the nodes that should
// run them. No I/O, no clock, no locks. It never modifies the table: its own
// placements go into an Overlay, which the caller keeps across the services
// of one batch and drops once the batch is committed (and so visible in the
// table).
//
// Filter, then rank:
//   filter: node ACTIVE and passing its status checks, memberOf constraints,
//           distinctInstance, free cpu and memory, requested static host
//           ports free, a free port in the node's range per dynamic port;
//   rank:   the policy's strategies in order. The first strategy, when it
//           spreads over zones or an attribute, is exact: the group with the
//           fewest of the service's tasks wins. Within a group a bounded,
//           rotating sample of feasible nodes — max(16, 2*ceil(log2 N)), all of
//           them in small clusters — is scored by the remaining strategies,
//           ties going to the node name, so results are deterministic.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/placement/policy.h"
#include "controlplane/scheduler/node_table.h"

namespace gantry::scheduler {

// Placements made but not committed yet.
struct Overlay {
  struct NodeDelta {
    int64_t cpu = 0;
    int64_t memory = 0;
    int tasks = 0;
    std::vector<uint32_t> ports;
  };
  absl::flat_hash_map<size_t, NodeDelta> nodes;
  absl::flat_hash_map<std::string, absl::flat_hash_map<size_t, int>> service_tasks;
  void Clear() {
    nodes.clear();
    service_tasks.clear();
  }
};

// The service's tasks holding resources, per node index.
using ServiceLoad = absl::flat_hash_map<size_t, int>;

struct PlacementRequest {
  std::string service;
  int count = 0;
  int64_t cpu = 0;     // per task, millicores
  int64_t memory = 0;  // per task, bytes
  std::vector<uint32_t> static_ports;
  int dynamic_ports = 0;
  const PlacementPolicy* policy = nullptr;  // null: the default policy
  // Place only in this zone (zone rebalancing).
  std::string only_zone;
  // Seeds the random strategy.
  uint64_t seed = 0;
};

struct TaskPlacement {
  size_t node_index = 0;
  std::string node;
  std::string zone;
  // One host port per dynamic port of the request, in request order.
  std::vector<uint32_t> dynamic_ports;
};

struct PlacementResult {
  std::vector<TaskPlacement> placed;
  int unplaced = 0;
  // When some tasks could not be placed: why each node was rejected for the
  // first task that failed, counted by reason ("insufficient memory" -> 3).
  std::map<std::string, int> rejections;

  // "cannot place 2 task(s) of web (100m cpu, 512Mi memory): 6 nodes: 3
  // insufficient memory, 2 excluded by memberOf, 1 DRAINING"; empty when
  // everything was placed.
  std::string Explain(const PlacementRequest& request, size_t node_count) const;
};

PlacementResult Place(const NodeTable& table, const ServiceLoad& existing,
                      const PlacementRequest& request, Overlay& overlay);

// Whether `node` could ever take the service's tasks (status, checks,
// memberOf), ignoring resources: "" if so, else why not.
std::string StaticReject(const NodeRecord& node, const PlacementPolicy& policy);

// A task that may be stopped when scaling in, with where it runs.
struct StopCandidate {
  std::string task_id;
  std::string node;
  std::string zone;
  bool running = false;
};

// Chooses `count` tasks to stop so the remaining ones stay evenly spread:
// tasks that are not running yet go first, then one from the zone with the
// most tasks, and within it from the node with the most tasks.
std::vector<std::string> ChooseTasksToStop(const std::vector<StopCandidate>& candidates, int count);

// One move that evens out a service's spread over zones: from the zone with
// the most tasks to the one with the fewest, when they differ by more than
// one. `zone_tasks` holds every zone the service can use, with its tasks.
struct RebalanceMove {
  std::string from_zone;
  std::string to_zone;
};
std::optional<RebalanceMove> PlanRebalance(const std::map<std::string, int>& zone_tasks);

}  // namespace gantry::scheduler
