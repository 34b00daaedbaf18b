#pragma once

// The images each node's agent last reported (`gantryctl get images`).
// A report replaces the node's previous one; what is kept is in memory only
// and is reported again by each agent, so a restarted control plane learns
// it anew.
//
// Thread safety: all methods are thread-safe.

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "gantry/v1/agent.pb.h"
#include "gantry/v1/types.pb.h"

namespace gantry::nodes {

class ImageReports {
 public:
  // `node`'s agent reports the images it holds now.
  void OnReport(const std::string& node, const gantry::v1::ImageReport& report)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The images each node last reported (all nodes when `node` is empty),
  // by node name.
  std::vector<gantry::v1::NodeImage> Images(const std::string& node) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable Mutex mu_;
  std::map<std::string, std::vector<gantry::v1::NodeImage>> images_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gantry::nodes
