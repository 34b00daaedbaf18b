#pragma once

// Whether each node is alive, as this control plane sees it, and what
// follows from it.
//
//   - A node not heard from for `heartbeat_grace` is DOWN (a node never
//     heard from counts from the control plane's start), and the tasks of a
//     DOWN node are LOST: their desired status becomes STOPPED with the
//     reason, so the service controller replaces them elsewhere. When many
//     nodes are DOWN at once, StormLimit paces that.
//   - A heartbeat revives a DOWN node: ACTIVE again, or DRAINING when the
//     operator asked for a drain (a drain survives the node being DOWN).
//   - The agent's instance and storage checks that come with heartbeats are
//     recorded on the node, each with the time it last changed; a failing
//     check makes the node ineligible for new tasks.
//   - SystemCheck() is the check the control plane adds itself: it hears
//     the node's agent.
//
// Ownership: `state`, `events`, `clock` and `sessions` (where the last-heard
// times live) are not owned and must outlive this object.
//
// Thread safety: all methods are thread-safe; Check() passes run one at a
// time.

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "controlplane/events/event_log.h"
#include "controlplane/nodes/agent_sessions.h"
#include "controlplane/nodes/storm_limit.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::nodes {

class NodeLiveness {
 public:
  struct Options {
    // A node that has not been heard from for this long is DOWN.
    absl::Duration heartbeat_grace = absl::Seconds(10);
    StormLimit::Options storm;
  };

  NodeLiveness(state::ClusterState* state, events::EventLog* events, const Clock* clock,
               AgentSessions* sessions, Options options);
  NodeLiveness(const NodeLiveness&) = delete;
  NodeLiveness& operator=(const NodeLiveness&) = delete;

  // `node`'s agent was heard from, with the checks it ran (if any).
  void OnHeartbeat(const std::string& node,
                   const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks);

  // The node's "system" check: the control plane hears its agent.
  gantry::v1::NodeCheck SystemCheck(const gantry::v1::Node& node) const;

  // Nodes not heard from since count from `t` on: a new leader's takeover,
  // so a failover never makes nodes look lost (agents were connected to the
  // old leader).
  // `t` is a Clock::Monotonic() value.
  void CountFrom(absl::Time t) ABSL_LOCKS_EXCLUDED(mu_);

  // One pass: marks silent nodes DOWN, then the tasks of DOWN nodes LOST.
  void Check() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void RecordChecks(const std::string& node,
                    const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks);
  void Revive(const std::string& node);
  void MarkDown();
  // `now`, in LoseTasksOf and DownReason too, is clock_->Monotonic().
  void LoseTasks(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the tasks of the DOWN node `n` LOST while the storm limit allows;
  // returns false when it stopped because of the limit.
  bool LoseTasksOf(const gantry::v1::Node& n, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // "Node n1 is DOWN: no heartbeat for 11s", the reason its tasks stop.
  std::string DownReason(const std::string& node, absl::Time now) const;

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  AgentSessions* const sessions_;
  const Options options_;
  absl::Time started_ ABSL_GUARDED_BY(mu_);

  Mutex mu_;
  StormLimit storm_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gantry::nodes
