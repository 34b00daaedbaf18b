#pragma once

// The scheduler's view of every node: identity, attributes, status, health,
// capacity and what is allocated on it. ClusterState keeps one NodeTable
// current incrementally (node records and task changes), so placing tasks
// never copies the cluster: the placement core reads the table and records
// its own, not yet committed, placements in an Overlay.
//
// Not thread-safe; the owner guards it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gantry/v1/types.pb.h"

namespace gantry::scheduler {

struct NodeRecord {
  std::string name;
  std::string zone;
  std::map<std::string, std::string> attributes;
  gantry::v1::Node::Status status = gantry::v1::Node::STATUS_UNSPECIFIED;
  // Non-empty while a status check fails ("instance check: ..."): no new
  // tasks go there.
  std::string unhealthy;
  int64_t cpu_capacity = 0;
  int64_t memory_capacity = 0;
  int64_t cpu_allocated = 0;
  int64_t memory_allocated = 0;
  uint32_t port_range_start = 0;
  uint32_t port_range_end = 0;
  absl::flat_hash_map<uint32_t, int> ports;  // host port -> tasks holding it
  int tasks = 0;
};

class NodeTable {
 public:
  const std::vector<NodeRecord>& nodes() const { return nodes_; }
  std::optional<size_t> Find(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }
  // The record for `name`, created empty if missing.
  NodeRecord& Upsert(const std::string& name) {
    auto [it, inserted] = index_.emplace(name, nodes_.size());
    if (inserted) {
      nodes_.emplace_back();
      nodes_.back().name = name;
    }
    return nodes_[it->second];
  }
  void Remove(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    const size_t i = it->second;
    index_.erase(it);
    if (i + 1 != nodes_.size()) {
      nodes_[i] = std::move(nodes_.back());
      index_[nodes_[i].name] = i;
    }
    nodes_.pop_back();
  }
  NodeRecord& at(size_t i) { return nodes_[i]; }

 private:
  std::vector<NodeRecord> nodes_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace gantry::scheduler
