#pragma once

// Wires one node agent together: the container runtime (given, or owned
// when the AgentFactory built it), the image manager, health monitor and
// metrics, the Reconciler and NodeUpkeep driven by one loop on the injected
// clock, and the Session to the control plane. Each loop pass reconciles,
// then does the upkeep, and every `check_interval` judges the node checks
// the heartbeats carry. The Session wakes the loop when a desired set
// arrives. main.cc builds agents through AgentFactory; the integration tests
// construct them on a FakeRuntime.
//
// Thread safety: Start() and Stop() from one thread; the accessors return
// parts that are thread-safe as their own headers say (the Reconciler's
// Tick()-thread parts belong to the loop).

#include <memory>
#include <thread>

#include "agent/checks/node_checks.h"
#include "agent/health/health_monitor.h"
#include "agent/images/image_manager.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/metrics/metrics_endpoint.h"
#include "agent/network/node_network.h"
#include "agent/node_identity.h"
#include "agent/node_upkeep.h"
#include "agent/reconciler.h"
#include "agent/runtime/container_runtime.h"
#include "agent/secrets/session_secret_source.h"
#include "agent/session.h"
#include "common/clock.h"
#include "common/periodic.h"
#include "common/registry/registry_client.h"

namespace gantry::agent {

class Agent {
 public:
  struct Options {
    Reconciler::Options reconciler;
    Session::Options session;
    // The node certificate: the session's credentials, renewed while the
    // agent runs. Null: session.credentials as given (tests).
    std::shared_ptr<NodeIdentity> identity;
    ImageManager::Options images;
    // Its data_dir is always the reconciler's.
    NodeUpkeep::Options upkeep;
    registry::RegistryConfig registries;
    absl::Duration tick_interval = absl::Seconds(1);
    // Status checks: container storage to watch (empty: where the runtime
    // says it keeps it) and the thresholds.
    std::string container_storage;
    CheckThresholds thresholds;
    absl::Duration check_interval = absl::Seconds(10);
    HealthMonitor::Options health;
    // Task networking (networkMode task); null: tasks that ask for it fail.
    std::shared_ptr<NodeNetwork> network;
  };

  // `runtime` and `clock` must outlive the agent.
  Agent(ContainerRuntime* runtime, const Clock* clock, Options options);
  // Owns `runtime`.
  Agent(std::unique_ptr<ContainerRuntime> runtime, const Clock* clock, Options options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Points `endpoint` at this agent's metrics and keeps it until Stop().
  void ServeMetrics(std::unique_ptr<MetricsEndpoint> endpoint);

  // Recovers (adopts running containers), then starts the loop and the
  // session threads.
  absl::Status Start();
  // Stops serving metrics and the threads; containers keep running.
  void Stop();

  const Options& options() const { return options_; }
  Reconciler* reconciler() { return reconciler_.get(); }
  ImageManager* images() { return images_.get(); }
  Session* session() { return session_.get(); }
  AgentMetrics* metrics() { return metrics_.get(); }

 private:
  // One loop pass.
  void Pass();
  void Wake();

  // First: destroyed after everything that uses the runtime.
  std::unique_ptr<ContainerRuntime> owned_runtime_;
  ContainerRuntime* const runtime_;
  const Clock* const clock_;
  const Options options_;
  std::unique_ptr<registry::RegistryClient> registry_;
  std::unique_ptr<ImageManager> images_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<NodeUpkeep> upkeep_;
  std::unique_ptr<Session> session_;
  // Secret values come over the session's channel.
  std::unique_ptr<SessionSecretSource> secret_source_;

  StorageLocator storage_;                        // loop thread only
  absl::Time next_check_ = absl::InfinitePast();  // loop thread only
  std::unique_ptr<Periodic> loop_;
  std::thread session_thread_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
};

}  // namespace gantry::agent
