#pragma once

// Which stream speaks for which node, when each node was last heard from,
// and which nodes are owed a new desired set.
//
// Every connected node has one current AgentConnection. A newer
// registration for the same node replaces it and closes the older one; the
// older stream ending afterwards does not unregister the newer (Detach()
// only detaches the connection that is current). The time a node was last
// heard from is kept across disconnects, so liveness can tell for how long
// it has been silent.
//
// Desired sets are pushed level-triggered: a change to a node's tasks marks
// the node dirty, and PushDirty() sends each dirty, connected node its whole
// current set (BuildDesiredTasks) with the store revision as its sequence,
// so sets only grow in sequence, also across control plane restarts, and a
// push lost with a stream is made good by the next registration. A large set
// goes out in parts (common/desired_parts.h).
//
// Ownership: the connections are shared with the transport; `state` is not
// owned and must outlive this object.
//
// Thread safety: all methods are thread-safe. MarkDirty() only records
// names, so it may run inside a state listener. Connections are closed and
// sent to outside the lock.

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "controlplane/nodes/agent_connection.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::nodes {

// The set `node` should run now: every task on it whose desired status is
// RUNNING, with its containers and pinned image digests, and the store
// revision read before the tasks as its sequence.
gantry::v1::DesiredTasks BuildDesiredTasks(const state::ClusterState& state,
                                           const std::string& node);

class AgentSessions {
 public:
  explicit AgentSessions(const state::ClusterState* state);
  AgentSessions(const AgentSessions&) = delete;
  AgentSessions& operator=(const AgentSessions&) = delete;

  // Makes `connection` the one that speaks for `node`, heard from at `now`.
  // A different connection it replaces is closed.
  void Attach(const std::string& node, std::shared_ptr<AgentConnection> connection, absl::Time now);
  // Forgets `connection` if it still speaks for `node` and returns true
  // then; the node counts as heard from at `now`. Returns false for a
  // connection that was replaced already.
  bool Detach(const std::string& node, const AgentConnection* connection, absl::Time now);
  // Something arrived from `node` at `now`.
  void Heard(const std::string& node, absl::Time now);

  // The connection speaking for `node`; null when it is not connected.
  std::shared_ptr<AgentConnection> Connection(const std::string& node) const;
  bool IsConnected(const std::string& node) const;
  // When `node` was last heard from (the Clock::Monotonic() value given to
  // Attach, Detach or Heard); absl::UnixEpoch() if never since this control
  // plane started.
  absl::Time LastHeard(const std::string& node) const;

  // `nodes` are owed their desired set.
  void MarkDirty(const std::set<std::string>& nodes);
  // Sends each dirty node that is connected its complete desired set and
  // clears the dirty set (a node not connected gets its set when it
  // registers, which marks it dirty again).
  void PushDirty();

  // The leader's epoch, sent with every desired set.
  void SetEpoch(int64_t epoch) { epoch_ = epoch; }

 private:
  const state::ClusterState* const state_;
  std::atomic<int64_t> epoch_{0};

  mutable Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<AgentConnection>> connections_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> last_heard_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gantry::nodes
