#include "controlplane/scheduler/placement.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/quantity.h"

namespace gantry::scheduler {
namespace {

using Field = Strategy::Field;
using Kind = Strategy::Kind;

NodeFacts Facts(const NodeRecord& n) { return NodeFacts{&n.name, &n.zone, &n.attributes}; }

std::string GroupKey(const NodeRecord& n, const Strategy& s) {
  switch (s.field) {
    case Field::kZone:
      return n.zone;
    case Field::kNode:
      return n.name;
    case Field::kAttribute: {
      auto it = n.attributes.find(s.attribute);
      return it == n.attributes.end() ? "" : it->second;
    }
    default:
      return "";
  }
}

class Placer {
 public:
  Placer(const NodeTable& table, const ServiceLoad& existing, const PlacementRequest& req,
         Overlay& overlay)
      : table_(table),
        existing_(existing),
        req_(req),
        overlay_(overlay),
        policy_(req.policy != nullptr ? *req.policy : default_policy_),
        mine_(overlay.service_tasks[req.service]),
        rng_(req.seed ^ absl::HashOf(req.service)) {}

  PlacementResult Run() {
    PlacementResult result;
    const auto& nodes = table_.nodes();
    const size_t n = nodes.size();
    limit_ = std::max<size_t>(16, 2 * static_cast<size_t>(std::ceil(std::log2(n + 1))));

    // The first strategy groups nodes when it spreads over zones or an
    // attribute; the rest score nodes within the chosen group(s).
    size_t first_rank = 0;
    const Strategy* grouping = nullptr;
    if (!policy_.strategies.empty() && policy_.strategies[0].kind == Kind::kSpread &&
        policy_.strategies[0].field != Field::kNode) {
      grouping = &policy_.strategies[0];
      first_rank = 1;
    }
    rank_.assign(policy_.strategies.begin() + first_rank, policy_.strategies.end());
    // Binpack means the fullest node that fits, which a rotating sample
    // would miss: the sample comes from the group ordered fullest first.
    for (const auto& s : rank_) {
      if (s.kind == Kind::kBinpack && binpack_ == nullptr) binpack_ = &s;
    }

    // Tasks per value of every spread field in play, from what runs and what
    // this batch already placed.
    for (const auto& s : policy_.strategies) {
      if (s.kind != Kind::kSpread || s.field == Field::kNode) continue;
      auto& counts = spread_counts_[SpreadId(s)];
      for (const auto& [i, c] : existing_) counts[GroupKey(nodes[i], s)] += c;
      for (const auto& [i, c] : mine_) counts[GroupKey(nodes[i], s)] += c;
    }

    std::map<std::string, std::vector<size_t>> members;
    for (size_t i = 0; i < n; ++i) {
      if (!StaticReject(nodes[i], policy_).empty()) continue;
      if (!req_.only_zone.empty() && nodes[i].zone != req_.only_zone) continue;
      members[grouping ? GroupKey(nodes[i], *grouping) : ""].push_back(i);
    }
    for (auto& [key, list] : members) {
      groups_.push_back(Group{key, std::move(list), 0, false});
      Group& g = groups_.back();
      if (!g.members.empty()) g.cursor = absl::HashOf(req_.service, key) % g.members.size();
    }

    for (int t = 0; t < req_.count; ++t) {
      std::optional<size_t> chosen = Choose(grouping);
      if (!chosen) {
        result.unplaced = req_.count - t;
        for (size_t i = 0; i < n; ++i) result.rejections[Reject(i)]++;
        break;
      }
      result.placed.push_back(Assign(*chosen, grouping));
    }
    return result;
  }

 private:
  struct Group {
    std::string key;
    std::vector<size_t> members;
    size_t cursor = 0;
    bool exhausted = false;
    // Binpack: the members, fullest first, and how many at the front are
    // known not to fit. Within a call free resources only shrink, so the
    // order stays right for the nodes that still fit and the prefix grows.
    std::vector<size_t> fullest_first;
    size_t full = 0;
  };

  static std::string SpreadId(const Strategy& s) {
    return s.field == Field::kZone ? "zone" : absl::StrCat("attribute:", s.attribute);
  }

  int ServiceTasks(size_t i) const {
    int c = 0;
    if (auto it = existing_.find(i); it != existing_.end()) c += it->second;
    if (auto it = mine_.find(i); it != mine_.end()) c += it->second;
    return c;
  }
  const Overlay::NodeDelta* Delta(size_t i) const {
    auto it = overlay_.nodes.find(i);
    return it == overlay_.nodes.end() ? nullptr : &it->second;
  }
  int64_t FreeCpu(size_t i) const {
    const auto& r = table_.nodes()[i];
    const auto* d = Delta(i);
    return r.cpu_capacity - r.cpu_allocated - (d ? d->cpu : 0);
  }
  int64_t FreeMemory(size_t i) const {
    const auto& r = table_.nodes()[i];
    const auto* d = Delta(i);
    return r.memory_capacity - r.memory_allocated - (d ? d->memory : 0);
  }
  bool PortUsed(size_t i, uint32_t port) const {
    if (table_.nodes()[i].ports.contains(port)) return true;
    const auto* d = Delta(i);
    return d && std::find(d->ports.begin(), d->ports.end(), port) != d->ports.end();
  }
  int FreeDynamicPorts(size_t i, int want) const {
    const auto& r = table_.nodes()[i];
    int free = 0;
    for (uint32_t p = r.port_range_start; p != 0 && p <= r.port_range_end && free < want; ++p) {
      if (!PortUsed(i, p)) free++;
    }
    return free;
  }

  // Why node i cannot take one more task now, or "".
  std::string DynamicReject(size_t i) const {
    if (policy_.distinct_instance && ServiceTasks(i) > 0) {
      return absl::StrCat("already running a task of ", req_.service, " (distinctInstance)");
    }
    if (FreeCpu(i) < req_.cpu) return "insufficient cpu";
    if (FreeMemory(i) < req_.memory) return "insufficient memory";
    for (uint32_t p : req_.static_ports) {
      if (PortUsed(i, p)) return absl::StrCat("host port ", p, " in use");
    }
    if (req_.dynamic_ports > 0 && FreeDynamicPorts(i, req_.dynamic_ports) < req_.dynamic_ports) {
      return "no free dynamic port";
    }
    return "";
  }

  std::string Reject(size_t i) const {
    const auto& r = table_.nodes()[i];
    if (auto why = StaticReject(r, policy_); !why.empty()) return why;
    if (!req_.only_zone.empty() && r.zone != req_.only_zone) {
      return absl::StrCat("not in zone ", req_.only_zone);
    }
    return DynamicReject(i);
  }

  // Up to limit_ feasible nodes of the group, starting at its cursor (a
  // rotating sample, as Nomad samples, unless binpack asks for all).
  std::vector<size_t> Sample(Group& g) {
    if (binpack_ != nullptr) return FullestSample(g);
    std::vector<size_t> out;
    const size_t n = g.members.size();
    size_t j = 0;
    for (; j < n && out.size() < limit_; ++j) {
      const size_t idx = g.members[(g.cursor + j) % n];
      if (DynamicReject(idx).empty()) out.push_back(idx);
    }
    if (out.empty()) g.exhausted = true;  // resources only shrink within a call
    if (n > 0) g.cursor = (g.cursor + std::max<size_t>(j, 1)) % n;
    return out;
  }

  int64_t Free(size_t i, const Strategy& binpack) const {
    return binpack.field == Field::kCpu ? FreeCpu(i) : FreeMemory(i);
  }

  // Up to limit_ feasible nodes of the group, the fullest first.
  std::vector<size_t> FullestSample(Group& g) {
    if (g.fullest_first.empty() && !g.members.empty()) {
      std::vector<std::pair<int64_t, size_t>> order;
      order.reserve(g.members.size());
      for (size_t idx : g.members) order.emplace_back(Free(idx, *binpack_), idx);
      std::sort(order.begin(), order.end());
      for (const auto& [free, idx] : order) g.fullest_first.push_back(idx);
    }
    std::vector<size_t> out;
    for (size_t j = g.full; j < g.fullest_first.size() && out.size() < limit_; ++j) {
      const size_t idx = g.fullest_first[j];
      if (DynamicReject(idx).empty()) {
        out.push_back(idx);
      } else if (out.empty()) {
        g.full = j + 1;
      }
    }
    if (out.empty()) g.exhausted = true;
    return out;
  }

  // Lexicographic score of node i under the ranking strategies; lower wins.
  std::vector<int64_t> Score(size_t i) {
    std::vector<int64_t> score;
    score.reserve(rank_.size());
    const auto& r = table_.nodes()[i];
    for (const auto& s : rank_) {
      switch (s.kind) {
        case Kind::kSpread:
          score.push_back(s.field == Field::kNode ? ServiceTasks(i)
                                                  : spread_counts_[SpreadId(s)][GroupKey(r, s)]);
          break;
        case Kind::kBinpack:
          score.push_back(s.field == Field::kCpu ? FreeCpu(i) : FreeMemory(i));
          break;
        case Kind::kRandom:
          score.push_back(static_cast<int64_t>(rng_() >> 1));
          break;
      }
    }
    return score;
  }

  std::optional<size_t> Choose(const Strategy* grouping) {
    for (;;) {
      // The live groups with the fewest tasks of the service.
      std::vector<Group*> tied;
      int64_t lowest = INT64_MAX;
      for (auto& g : groups_) {
        if (g.exhausted || g.members.empty()) continue;
        const int64_t c = grouping ? spread_counts_[SpreadId(*grouping)][g.key] : 0;
        if (c < lowest) {
          lowest = c;
          tied.clear();
        }
        if (c == lowest) tied.push_back(&g);
      }
      if (tied.empty()) return std::nullopt;
      std::optional<size_t> best;
      std::vector<int64_t> best_score;
      for (Group* g : tied) {
        for (size_t idx : Sample(*g)) {
          auto s = Score(idx);
          if (!best || s < best_score ||
              (s == best_score && table_.nodes()[idx].name < table_.nodes()[*best].name)) {
            best = idx;
            best_score = std::move(s);
          }
        }
      }
      if (best) return best;
      // Every tied group turned out full; try the next level.
    }
  }

  TaskPlacement Assign(size_t i, const Strategy* grouping) {
    const auto& r = table_.nodes()[i];
    auto& d = overlay_.nodes[i];
    d.cpu += req_.cpu;
    d.memory += req_.memory;
    d.tasks++;
    TaskPlacement out;
    for (uint32_t p : req_.static_ports) d.ports.push_back(p);
    for (uint32_t p = r.port_range_start;
         p != 0 && p <= r.port_range_end &&
         static_cast<int>(out.dynamic_ports.size()) < req_.dynamic_ports;
         ++p) {
      if (!PortUsed(i, p)) {
        d.ports.push_back(p);
        out.dynamic_ports.push_back(p);
      }
    }
    mine_[i]++;
    for (auto& [id, counts] : spread_counts_) {
      std::string key = r.zone;
      if (id != "zone") {
        auto it = r.attributes.find(id.substr(10));
        key = it == r.attributes.end() ? std::string() : it->second;
      }
      counts[key]++;
    }
    (void)grouping;
    out.node_index = i;
    out.node = r.name;
    out.zone = r.zone;
    return out;
  }

  static inline const PlacementPolicy default_policy_ = PlacementPolicy::Default();

  const NodeTable& table_;
  const ServiceLoad& existing_;
  const PlacementRequest& req_;
  Overlay& overlay_;
  const PlacementPolicy& policy_;
  absl::flat_hash_map<size_t, int>& mine_;
  std::mt19937_64 rng_;
  size_t limit_ = 16;
  const Strategy* binpack_ = nullptr;  // the first binpack strategy, if any
  std::vector<Strategy> rank_;
  std::vector<Group> groups_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>> spread_counts_;
};

}  // namespace

std::string StaticReject(const NodeRecord& r, const PlacementPolicy& policy) {
  switch (r.status) {
    case gantry::v1::Node::ACTIVE:
      break;
    case gantry::v1::Node::DRAINING:
      return "DRAINING";
    case gantry::v1::Node::DOWN:
      return "DOWN";
    default:
      return "not registered";
  }
  if (!r.unhealthy.empty()) return r.unhealthy;
  for (const auto& e : policy.member_of) {
    if (!e.Matches(Facts(r))) return "excluded by memberOf";
  }
  return "";
}

PlacementResult Place(const NodeTable& table, const ServiceLoad& existing,
                      const PlacementRequest& request, Overlay& overlay) {
  return Placer(table, existing, request, overlay).Run();
}

std::string PlacementResult::Explain(const PlacementRequest& request, size_t node_count) const {
  if (unplaced == 0) return "";
  std::string needs =
      absl::StrCat(FormatCpu(request.cpu), " cpu, ", FormatMemory(request.memory), " memory");
  if (!request.static_ports.empty()) {
    needs += absl::StrCat(", host ports ", absl::StrJoin(request.static_ports, ","));
  }
  if (!request.only_zone.empty()) needs += absl::StrCat(", in zone ", request.only_zone);
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

std::optional<RebalanceMove> PlanRebalance(const std::map<std::string, int>& zone_tasks) {
  if (zone_tasks.size() < 2) return std::nullopt;
  auto most = zone_tasks.begin();
  auto fewest = zone_tasks.begin();
  for (auto it = zone_tasks.begin(); it != zone_tasks.end(); ++it) {
    if (it->second > most->second) most = it;
    if (it->second < fewest->second) fewest = it;
  }
  if (most->second - fewest->second <= 1) return std::nullopt;
  return RebalanceMove{most->first, fewest->first};
}

}  // namespace gantry::scheduler
