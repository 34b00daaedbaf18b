#pragma once

// Wires one node agent together: the container runtime (given), the
// reconciler and its loop thread, and the session to the control plane.
// main.cc and the integration tests start agents through this class.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/checks/node_checks.h"
#include "agent/images/image_manager.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/reconciler.h"
#include "agent/runtime/container_runtime.h"
#include "agent/session.h"
#include "common/clock.h"

namespace gantry::agent {

class Agent {
 public:
  struct Options {
    Reconciler::Options reconciler;
    Session::Options session;
    ImageManager::Options images;
    registry::RegistryConfig registries;
    absl::Duration tick_interval = absl::Seconds(1);
    // Status checks: container storage to watch and the thresholds.
    std::string container_storage = "/var/lib/containerd";
    CheckThresholds thresholds;
    absl::Duration check_interval = absl::Seconds(10);
    HealthMonitor::Options health;
  };

  Agent(ContainerRuntime* runtime, const Clock* clock, Options options);
  ~Agent();

  // Recovers (adopts running containers), then starts the loop and the
  // session threads.
  absl::Status Start();
  // Stops the threads; containers keep running.
  void Stop();

  Reconciler* reconciler() { return reconciler_.get(); }
  ImageManager* images() { return images_.get(); }
  Session* session() { return session_.get(); }
  AgentMetrics* metrics() { return metrics_.get(); }

 private:
  void Loop();
  void Wake();

  ContainerRuntime* const runtime_;
  const Options options_;
  std::unique_ptr<registry::RegistryClient> registry_;
  std::unique_ptr<ImageManager> images_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<Session> session_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread loop_;
  std::thread session_thread_;
};

}  // namespace gantry::agent
