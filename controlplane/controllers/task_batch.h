#pragma once

// The tasks one controller pass creates. Placements of many services are
// made against the same node table plus an Overlay of what the batch has
// placed so far, and committed together in a few large store transactions
// instead of one per service — the difference between hundreds and tens of
// thousands of durable placements per second.
//
// Not thread-safe: owned by the controller's pass.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "controlplane/events/event_log.h"
#include "controlplane/metrics/cp_metrics.h"
#include "controlplane/scheduler/placement.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class TaskBatch {
 public:
  // `metrics` may be null.
  TaskBatch(state::ClusterState* state, events::EventLog* events, const Clock* clock,
            metrics::ControlPlaneMetrics* metrics = nullptr)
      : state_(state), events_(events), clock_(clock), metrics_(metrics) {}

  // Places up to `count` new tasks of `service`'s current revision and adds
  // them to the batch. Returns the placement result (unplaced count and
  // reasons) and the request it was made for.
  // The tasks belong to `deployment` and run its pinned image digests.
  std::pair<scheduler::PlacementResult, scheduler::PlacementRequest> Place(
      const gantry::v1::Service& service, const gantry::v1::Deployment& deployment,
      const gantry::v1::TaskDefinition& td, const scheduler::PlacementPolicy& policy, int count,
      const std::string& only_zone = "");

  // Commits everything placed so far; the overlay is dropped once the
  // placements are visible in the state.
  absl::Status Flush();
  size_t size() const { return tasks_; }

 private:
  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  metrics::ControlPlaneMetrics* const metrics_;

  scheduler::Overlay overlay_;
  store::TxnRequest txn_;
  size_t tasks_ = 0;
  // Per service: revision and tasks placed per zone, for one event each.
  std::map<std::string, std::pair<std::string, std::map<std::string, int>>> placed_;
  uint64_t seed_ = 0;
};

}  // namespace gantry::controllers
