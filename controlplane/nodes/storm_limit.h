#pragma once

// Storm protection for lost nodes. When a large share of the cluster's
// nodes, or of a zone's, is DOWN at once, that looks like a network
// partition rather than failed machines, and replacing all their tasks at
// once would move the whole cluster onto whatever is on this side of it.
// In a storm at most `rate` tasks per `window` are marked LOST (and so
// replaced); outside one, tasks are marked at full speed. One lost node is
// never a storm, whatever the cluster's size.
//
// Pure policy: no clock, no store, no events. The caller passes the time,
// asks before each task and records what it did; NodeLiveness holds one
// under its mutex.
//
// Thread safety: none; calls must be serialized.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gantry/v1/types.pb.h"

namespace gantry::nodes {

class StormLimit {
 public:
  struct Options {
    // A storm is more than this share of the cluster's nodes DOWN...
    double fraction = 0.3;
    // ...or of a zone's, for zones of at least min_zone_nodes.
    double zone_fraction = 0.5;
    int min_zone_nodes = 3;
    // In a storm, at most `rate` tasks are marked LOST per `window`.
    int rate = 10;
    absl::Duration window = absl::Seconds(10);
  };

  explicit StormLimit(Options options) : options_(options) {}

  // Starts a pass over every node at `now`: counts the DOWN ones, judges
  // whether they are a storm and opens a new window when the current one
  // has passed. Returns how many nodes are DOWN (nothing else happens
  // without any: the next storm is announced afresh).
  int Begin(const std::vector<gantry::v1::Node>& nodes, absl::Time now);
  // Whether one more task may be marked LOST in this pass.
  bool MayLose() const { return !storm_ || used_ < options_.rate; }
  // One task was marked LOST.
  void Lost() { used_ += storm_ ? 1 : 0; }
  // Tasks had to wait for a later window: the event to record about it,
  // once per storm; empty when it was announced already.
  std::string Deferred();

  bool storm() const { return storm_; }

 private:
  const Options options_;
  bool storm_ = false;
  std::string where_;  // "3 of 4 nodes of zone a"
  absl::Time window_start_ = absl::InfinitePast();
  int used_ = 0;
  bool announced_ = false;
};

}  // namespace gantry::nodes
