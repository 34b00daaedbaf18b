#pragma once

// The placement core: a pure function from a cluster snapshot and a request
// for N identical tasks to the nodes that should run them. No I/O, no clock,
// no locks; the snapshot is the caller's copy and is updated in place as tasks
// are placed, so one call places a whole batch consistently.
//
// Filter, then rank:
//   filter: node ACTIVE, enough free cpu and memory, requested static host
//           ports free, a free port in the node's range for each dynamic port;
//   rank:   spread across zones (the zone with the fewest tasks of the service
//           first), then across nodes within the zone (fewest tasks of the
//           service), then the node with the most free memory, then by name
//           so results are deterministic.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "gantry/v1/types.pb.h"

namespace gantry::scheduler {

struct NodeInfo {
  std::string name;
  std::string zone;
  gantry::v1::Node::Status status = gantry::v1::Node::ACTIVE;
  int64_t cpu_capacity = 0;
  int64_t memory_capacity = 0;
  int64_t cpu_allocated = 0;
  int64_t memory_allocated = 0;
  uint32_t port_range_start = 0;
  uint32_t port_range_end = 0;
  absl::flat_hash_set<uint32_t> used_ports;
  // Tasks of the service being placed that already hold resources here.
  int service_tasks = 0;
};

struct PlacementRequest {
  std::string service;
  int count = 0;
  int64_t cpu = 0;     // per task, millicores
  int64_t memory = 0;  // per task, bytes
  std::vector<uint32_t> static_ports;
  int dynamic_ports = 0;
};

struct TaskPlacement {
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

  // "no node can run a task of web (100m cpu, 32Mi memory): 3 nodes: 2
  // insufficient memory, 1 DOWN"; empty when everything was placed.
  std::string Explain(const PlacementRequest& request, size_t node_count) const;
};

PlacementResult Place(std::vector<NodeInfo>& nodes, const PlacementRequest& request);

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

}  // namespace gantry::scheduler
