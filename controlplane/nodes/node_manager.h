#pragma once

// The control plane's side of its agents, as one object for the transport
// and the operator API: it owns the parts and wires them, and runs their
// loop. The work is done by
//   - NodeRegistrar: the node record a registration writes;
//   - AgentSessions: which stream speaks for which node, last-heard times,
//     and pushing each dirty node its complete desired task set;
//   - TaskReports: agents' task states into the store;
//   - NodeLiveness: heartbeats and checks, DOWN after the grace period, the
//     tasks of DOWN nodes LOST (paced by StormLimit), the system check;
//   - LogRelay: log requests to the agent that has the logs;
//   - ImageReports: the images each node holds.
//
// The loop (a Periodic on the injected clock) pushes desired sets and checks
// liveness every `check_interval`, and at once when a state change marks a
// node dirty or an agent registers. Tick() is one pass; tests call it
// directly without Start().
//
// Thread safety: all public methods are thread-safe. OnStateChange() only
// marks nodes dirty and wakes the loop, so it may run inside a state
// listener.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic.h"
#include "controlplane/events/event_log.h"
#include "controlplane/nodes/agent_connection.h"
#include "controlplane/nodes/agent_sessions.h"
#include "controlplane/nodes/image_reports.h"
#include "controlplane/nodes/log_relay.h"
#include "controlplane/nodes/node_liveness.h"
#include "controlplane/nodes/node_registrar.h"
#include "controlplane/nodes/subnet_pool.h"
#include "controlplane/nodes/task_firewall.h"
#include "controlplane/nodes/task_reports.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::nodes {

class NodeManager {
 public:
  struct Options {
    absl::Duration heartbeat_interval = absl::Seconds(2);
    // Told to every agent at registration; agents refuse another cluster's.
    std::string cluster_id;
    // A node that has not been heard from for this long is DOWN.
    absl::Duration heartbeat_grace = absl::Seconds(10);
    // Storm protection: when more than this share of the cluster's nodes
    // (or of a zone's, for zones of at least storm_min_zone_nodes) is DOWN
    // at once, at most storm_rate tasks per storm_window are marked LOST
    // and so replaced, so a partition does not move the whole cluster.
    double storm_fraction = 0.3;
    double storm_zone_fraction = 0.5;
    int storm_min_zone_nodes = 3;
    int storm_rate = 10;
    absl::Duration storm_window = absl::Seconds(10);
    // How often the loop looks for silent nodes without being woken.
    absl::Duration check_interval = absl::Seconds(1);
    // Where nodes' task subnets come from.
    TaskNetworkConfig task_network;
  };

  NodeManager(state::ClusterState* state, events::EventLog* events, const Clock* clock,
              Options options);
  ~NodeManager();
  NodeManager(const NodeManager&) = delete;
  NodeManager& operator=(const NodeManager&) = delete;

  // Starts and stops the loop. Stop() is idempotent.
  void Start() ABSL_LOCKS_EXCLUDED(loop_mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(loop_mu_);
  // The leader's fencing epoch, sent to agents with their desired sets.
  void SetEpoch(int64_t epoch) { sessions_.SetEpoch(epoch); }

  // --- Called by the transport for each agent stream.
  // Returns the node name the stream now speaks for. A registration that
  // fails ValidateRegistration (registration.h) is InvalidArgument naming
  // the field, and changes nothing.
  absl::StatusOr<std::string> Register(std::shared_ptr<AgentConnection> connection,
                                       const gantry::v1::RegisterRequest& request);
  void OnHeartbeat(const std::string& node,
                   const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks = {});
  void OnStatus(const std::string& node, const gantry::v1::TaskStatusReport& report);
  void OnLogData(const std::string& node, const gantry::v1::LogData& data);
  void OnImages(const std::string& node, const gantry::v1::ImageReport& report);
  void OnDisconnect(const std::string& node, const AgentConnection* connection);

  // --- Log relay. `sink` receives the agent's answers until one has eof
  // set; it runs on the thread that received them and must not block.
  using LogSink = LogRelay::Sink;
  absl::StatusOr<int64_t> OpenLogs(const gantry::v1::Task& task,
                                   const gantry::v1::GetLogsRequest& request, LogSink sink);
  void CloseLogs(int64_t request_id);

  // The images each node last reported (all nodes when `node` is empty).
  std::vector<gantry::v1::NodeImage> Images(const std::string& node) const;

  // --- Liveness as seen by this control plane.
  bool IsConnected(const std::string& node) const;
  // Wall-clock time of the last sign from `node`; absl::UnixEpoch() if none.
  absl::Time LastHeard(const std::string& node) const;

  void OnStateChange(const state::Change& change);
  // One pass of the loop: push desired sets to dirty nodes, mark silent
  // nodes DOWN and their tasks LOST. Public so tests can drive it with a
  // fake clock.
  void Tick();

  // The node's "system" check: the control plane hears its agent.
  gantry::v1::NodeCheck SystemCheck(const gantry::v1::Node& node) const;

  // The set the node should run now (tests and the push loop).
  gantry::v1::DesiredTasks BuildDesiredTasks(const std::string& node) const;

 private:
  void Wake() ABSL_LOCKS_EXCLUDED(loop_mu_);

  state::ClusterState* const state_;
  const Clock* const clock_;
  const Options options_;

  AgentSessions sessions_;
  IngressTracker ingress_;
  NodeRegistrar registrar_;
  TaskReports reports_;
  NodeLiveness liveness_;
  LogRelay logs_;
  ImageReports images_;

  Mutex loop_mu_;
  std::unique_ptr<Periodic> loop_ ABSL_GUARDED_BY(loop_mu_);
};

}  // namespace gantry::nodes
