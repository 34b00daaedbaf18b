#include "controlplane/scheduler/placement.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/quantity.h"

namespace gantry::scheduler {
namespace {

// Why `node` cannot take one more task, or "" if it can.
std::string Reject(const NodeInfo& node, const PlacementRequest& req) {
  switch (node.status) {
    case gantry::v1::Node::ACTIVE:
      break;
    case gantry::v1::Node::DRAINING:
      return "DRAINING";
    case gantry::v1::Node::DOWN:
      return "DOWN";
    default:
      return "not ACTIVE";
  }
  if (node.cpu_capacity - node.cpu_allocated < req.cpu) return "insufficient cpu";
  if (node.memory_capacity - node.memory_allocated < req.memory) return "insufficient memory";
  for (uint32_t p : req.static_ports) {
    if (node.used_ports.contains(p)) return absl::StrCat("host port ", p, " in use");
  }
  if (req.dynamic_ports > 0) {
    int free = 0;
    for (uint32_t p = node.port_range_start; p != 0 && p <= node.port_range_end; ++p) {
      if (!node.used_ports.contains(p) && ++free >= req.dynamic_ports) break;
    }
    if (free < req.dynamic_ports) return "no free dynamic port";
  }
  return "";
}

// Lower is better.
struct Rank {
  int zone_tasks;
  int node_tasks;
  int64_t neg_free_memory;
  const std::string* name;
  bool operator<(const Rank& o) const {
    if (zone_tasks != o.zone_tasks) return zone_tasks < o.zone_tasks;
    if (node_tasks != o.node_tasks) return node_tasks < o.node_tasks;
    if (neg_free_memory != o.neg_free_memory) return neg_free_memory < o.neg_free_memory;
    return *name < *o.name;
  }
};

void Assign(NodeInfo& node, const PlacementRequest& req, TaskPlacement& out) {
  node.cpu_allocated += req.cpu;
  node.memory_allocated += req.memory;
  node.service_tasks++;
  for (uint32_t p : req.static_ports) node.used_ports.insert(p);
  for (uint32_t p = node.port_range_start;
       p <= node.port_range_end && static_cast<int>(out.dynamic_ports.size()) < req.dynamic_ports;
       ++p) {
    if (node.used_ports.insert(p).second) out.dynamic_ports.push_back(p);
  }
  out.node = node.name;
  out.zone = node.zone;
}

}  // namespace

PlacementResult Place(std::vector<NodeInfo>& nodes, const PlacementRequest& request) {
  PlacementResult result;
  absl::flat_hash_map<std::string, int> zone_tasks;
  for (const auto& n : nodes) zone_tasks[n.zone] += n.service_tasks;

  for (int i = 0; i < request.count; ++i) {
    NodeInfo* best = nullptr;
    Rank best_rank{};
    for (auto& n : nodes) {
      if (!Reject(n, request).empty()) continue;
      Rank r{zone_tasks[n.zone], n.service_tasks, -(n.memory_capacity - n.memory_allocated),
             &n.name};
      if (best == nullptr || r < best_rank) {
        best = &n;
        best_rank = r;
      }
    }
    if (best == nullptr) {
      result.unplaced = request.count - i;
      for (const auto& n : nodes) result.rejections[Reject(n, request)]++;
      break;
    }
    TaskPlacement placement;
    Assign(*best, request, placement);
    zone_tasks[best->zone]++;
    result.placed.push_back(std::move(placement));
  }
  return result;
}

std::string PlacementResult::Explain(const PlacementRequest& request, size_t node_count) const {
  if (unplaced == 0) return "";
  std::string needs =
      absl::StrCat(FormatCpu(request.cpu), " cpu, ", FormatMemory(request.memory), " memory");
  if (!request.static_ports.empty()) {
    needs += absl::StrCat(", host ports ", absl::StrJoin(request.static_ports, ","));
  }
  if (node_count == 0) {
    return absl::StrCat("cannot place ", unplaced, " task(s) of ", request.service, " (", needs,
                        "): no nodes are registered");
  }
  std::vector<std::pair<int, std::string>> sorted;
  for (const auto& [reason, n] : rejections) sorted.push_back({-n, reason});
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> parts;
  for (const auto& [neg, reason] : sorted) parts.push_back(absl::StrCat(-neg, " ", reason));
  return absl::StrCat("cannot place ", unplaced, " task(s) of ", request.service, " (", needs,
                      "): ", node_count, " node", node_count == 1 ? "" : "s", ": ",
                      absl::StrJoin(parts, ", "));
}

std::vector<std::string> ChooseTasksToStop(const std::vector<StopCandidate>& candidates,
                                           int count) {
  std::vector<std::string> chosen;
  std::vector<const StopCandidate*> left;
  for (const auto& c : candidates) left.push_back(&c);
  // Not yet running first: stopping them costs nothing.
  std::stable_sort(left.begin(), left.end(), [](const StopCandidate* a, const StopCandidate* b) {
    return !a->running && b->running;
  });
  while (static_cast<int>(chosen.size()) < count && !left.empty()) {
    if (!left.front()->running) {
      chosen.push_back(left.front()->task_id);
      left.erase(left.begin());
      continue;
    }
    absl::flat_hash_map<std::string, int> per_zone;
    absl::flat_hash_map<std::string, int> per_node;
    for (const auto* c : left) {
      per_zone[c->zone]++;
      per_node[c->node]++;
    }
    auto victim = left.begin();
    for (auto it = left.begin(); it != left.end(); ++it) {
      const auto key = [&](const StopCandidate* c) {
        return std::make_tuple(per_zone[c->zone], per_node[c->node], c->task_id);
      };
      if (key(*it) > key(*victim)) victim = it;
    }
    chosen.push_back((*victim)->task_id);
    left.erase(victim);
  }
  return chosen;
}

}  // namespace gantry::scheduler
