#pragma once

// Forgets tasks that ended long ago: a task that is STOPPED (or LOST: its
// node never came back to confirm the end) and not wanted any more is
// deleted from the store once it stopped more than `retention` ago, so
// `gantryctl get tasks --all` and the store stay bounded.
//
// Thread-safe as far as the state is.

#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class StoppedTaskCollector {
 public:
  StoppedTaskCollector(state::ClusterState* state, const Clock* clock, absl::Duration retention)
      : state_(state), clock_(clock), retention_(retention) {}

  // Deletes those of `tasks` past the retention in one transaction. A store
  // error is logged; the next pass tries again.
  void Collect(const std::vector<gantry::v1::Task>& tasks);

 private:
  state::ClusterState* const state_;
  const Clock* const clock_;
  const absl::Duration retention_;
};

}  // namespace gantry::controllers
