#include "controlplane/nodes/storm_limit.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gantry::nodes {

using gantry::v1::Node;

int StormLimit::Begin(const std::vector<Node>& nodes, absl::Time now) {
  std::map<std::string, std::pair<int, int>> zones;  // zone -> (down, total)
  int down = 0;
  for (const auto& n : nodes) {
    auto& z = zones[n.zone()];
    z.second++;
    if (n.status() == Node::DOWN) {
      z.first++;
      down++;
    }
  }
  if (down == 0) {
    storm_ = false;
    announced_ = false;
    return 0;
  }
  // Several nodes at once, a large share of the cluster or of a zone, look
  // like a partition.
  const double total = static_cast<double>(nodes.size());
  storm_ = down >= 2 && nodes.size() >= 3 && down > options_.fraction * total;
  where_ = absl::StrCat(down, " of ", nodes.size(), " nodes");
  for (const auto& [zone, counts] : zones) {
    if (counts.first >= 2 && counts.second >= options_.min_zone_nodes &&
        counts.first > options_.zone_fraction * counts.second) {
      storm_ = true;
      where_ = absl::StrCat(counts.first, " of ", counts.second, " nodes of zone ", zone);
    }
  }
  if (now - window_start_ >= options_.window) {
    window_start_ = now;
    used_ = 0;
  }
  return down;
}

std::string StormLimit::Deferred() {
  if (announced_) return "";
  announced_ = true;
  return absl::StrCat(where_, " are DOWN at once: replacing their tasks at most ", options_.rate,
                      " per ", absl::FormatDuration(options_.window),
                      " so a partition does not move the whole cluster");
}

}  // namespace gantry::nodes
