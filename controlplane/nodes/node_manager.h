#pragma once

// Everything the control plane does with agents: registration, heartbeats,
// task state reports, pushing each node its complete desired task set, node
// liveness (DOWN after the grace period without heartbeats), and relaying
// log requests to the agent that has the logs.
//
// Desired sets are pushed level-triggered: any change to a node's tasks marks
// the node dirty and the push loop sends the node's whole current set, with
// the store revision as its sequence number, so sets only ever grow in
// sequence, also across control plane restarts.
//
// Thread safety: all public methods are thread-safe. OnStateChange() only
// marks nodes dirty, so it may run inside a state listener.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/events/event_log.h"
#include "controlplane/nodes/agent_connection.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::nodes {

class NodeManager {
 public:
  struct Options {
    absl::Duration heartbeat_interval = absl::Seconds(2);
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
  };

  NodeManager(state::ClusterState* state, events::EventLog* events, const Clock* clock,
              Options options);
  ~NodeManager();

  void Start();
  void Stop();

  // --- Called by the transport for each agent stream.
  // Returns the node name the stream now speaks for.
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
  using LogSink = std::function<void(const gantry::v1::LogData&)>;
  absl::StatusOr<int64_t> OpenLogs(const gantry::v1::Task& task,
                                   const gantry::v1::GetLogsRequest& request, LogSink sink);
  void CloseLogs(int64_t request_id);

  // The images each node last reported (all nodes when `node` is empty).
  std::vector<gantry::v1::NodeImage> Images(const std::string& node) const;

  // --- Liveness as seen by this control plane.
  bool IsConnected(const std::string& node) const;
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
  struct Session {
    std::shared_ptr<AgentConnection> connection;
    absl::Time last_heard;
  };
  struct LogStream {
    std::string node;
    LogSink sink;
  };

  void ApplyTaskState(const std::string& node, const gantry::v1::TaskState& ts);
  void ReconcileMissing(const std::string& node, const gantry::v1::TaskStatusReport& report,
                        bool registration);
  void MarkDown();
  void LoseTasks();
  void RecordChecks(const std::string& node,
                    const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks);
  void Loop();

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  const Options options_;
  const absl::Time started_;

  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, absl::Time> last_heard_;  // survives disconnects
  std::set<std::string> dirty_;
  std::map<int64_t, LogStream> logs_;
  std::map<std::string, std::vector<gantry::v1::NodeImage>> images_;
  int64_t next_log_id_ = 1;
  bool stop_ = false;
  // Storm rate limiting: the current window and how much of it is used.
  absl::Time storm_window_start_ = absl::InfinitePast();
  int storm_used_ = 0;
  bool storm_announced_ = false;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace gantry::nodes
