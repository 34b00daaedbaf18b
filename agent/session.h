#pragma once

// The agent's one stream to the control plane. Run() connects, registers
// (identity plus every task the agent knows), then reads desired task sets
// and log requests until the stream breaks, and reconnects with jittered
// exponential backoff. While connected, a Periodic on the injected clock
// sends heartbeats. Containers keep running whatever happens to the stream.
//
// With several control plane replicas (--controlplane a,b,c) the stream goes
// to the leader: a replica that is not the leader refuses it and names the
// leader, and the session moves there at once; a replica that fails or
// stops answering is left for the next one. The backoff stays well below
// the heartbeat grace, so a failover never makes the node look lost.
//
// Messages to the control plane go through an OutboundQueue that one writer
// thread per stream drains, control messages first.
//
// Thread safety: Send() and Stop() may be called from any thread.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "agent/logs/log_server.h"
#include "agent/outbound_queue.h"
#include "agent/reconciler.h"
#include "common/clock.h"
#include "common/endpoints.h"
#include "common/tls.h"
#include "gantry/v1/agent.grpc.pb.h"

namespace gantry::agent {

class Session {
 public:
  struct Options {
    // One or more replicas, comma-separated.
    std::string controlplane = "127.0.0.1:7070";
    // The credentials for each connection (the node certificate, which a
    // renewal may have replaced since the last one).
    std::function<ClientChannel()> credentials;
    // The cluster this node joined; a control plane of another is refused
    // (nothing is reconciled against it). Empty: not checked.
    std::string cluster_id;
    // Identity and capacity; tasks are filled in at each registration.
    gantry::v1::RegisterRequest identity;
    // Told of each registration and of each desired set the reconciler
    // accepts (task networking's subnet and routes); may be empty.
    std::function<void(const gantry::v1::Registered&)> on_registered;
    std::function<void(const gantry::v1::DesiredTasks&)> on_desired;
    absl::Duration min_backoff = absl::Milliseconds(200);
    absl::Duration max_backoff = absl::Seconds(2);
  };

  // `wake` asks the agent loop for an immediate reconciliation pass.
  Session(Options options, Reconciler* reconciler, const Clock* clock, std::function<void()> wake);
  ~Session();

  // Blocks until Stop(). Returns an error only for unusable options.
  absl::Status Run();
  void Stop();

  // Queues the message for the stream (outbound_queue.h); drops it when not
  // registered: registration resends state. Log data may wait for room.
  void Send(const gantry::v1::AgentMessage& message);
  // Log data queued for the stream at most.
  static constexpr size_t kMaxQueuedLogBytes = 1 << 20;
  // The node checks every heartbeat carries from now on.
  void SetChecks(std::vector<gantry::v1::NodeCheck> checks);
  bool connected() const;
  // The channel of the registered stream (to the leader), for the agent's
  // other calls; null while not registered.
  std::shared_ptr<grpc::Channel> channel() const;

 private:
  // One connection's lifetime; returns whether registration succeeded.
  bool RunOnce(const std::shared_ptr<grpc::Channel>& channel, const std::string& target);
  void SendHeartbeat();
  // False (and says so, loudly) when the control plane is another cluster's.
  bool SameCluster(const gantry::v1::Registered& registered);
  static std::string HintFor(const grpc::Status& status);

  Endpoints endpoints_;
  std::string redirected_;  // the leader a refusal named; Run()'s thread only
  const Options options_;
  Reconciler* const reconciler_;
  const Clock* const clock_;
  const std::function<void()> wake_;
  std::unique_ptr<LogServer> logs_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  grpc::ClientContext* context_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;  // guarded by mu_
  grpc::ClientReaderWriter<gantry::v1::AgentMessage, gantry::v1::ControlMessage>* stream_ = nullptr;
  // Everything sent while registered, written by the stream's one writer.
  OutboundQueue outbound_{kMaxQueuedLogBytes};
  std::vector<gantry::v1::NodeCheck> checks_;  // guarded by mu_
  bool wrong_cluster_ = false;                 // Run()'s thread only
};

}  // namespace gantry::agent
