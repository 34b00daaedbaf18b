#pragma once

// Runs the containers' health checks without a helper process per task:
// one scheduler thread keeps every check's next due time and hands due
// probes to a small pool of worker threads. CMD and CMD-SHELL probes run
// inside the container through the runtime's Exec; http probes (2xx and 3xx
// pass) and tcp probes (the connection opens) run from the agent against
// the task's host port. Results go through a HealthPolicy per container.
//
// Thread-safe. With zero threads nothing runs by itself: tests call RunDue()
// on an injected clock.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/health/health_policy.h"
#include "agent/metrics/observer.h"
#include "agent/runtime/container_runtime.h"
#include "common/clock.h"
#include "gantry/v1/types.pb.h"

namespace gantry::agent {

struct HealthTarget {
  std::string container_id;  // runtime id
  std::string service;       // for metrics
  std::string task;          // for metrics
  std::string container;     // its name in the task definition
  gantry::v1::HealthCheck check;
  std::string address;  // for http and tcp probes
  uint32_t port = 0;
  absl::Time started;
  // The health to report until the first probe answers: what the agent's
  // record had (a restarted agent), else UNKNOWN.
  gantry::v1::Task::Health carried = gantry::v1::Task::UNKNOWN;
  std::string carried_output;
};

// Runs one probe; returns whether it passed and what it said.
struct ProbeResult {
  bool passed = false;
  std::string output;
};
ProbeResult RunProbe(ContainerRuntime* runtime, const HealthTarget& target);

class HealthMonitor {
 public:
  struct Options {
    int threads = 2;
    // The first probe runs this long after the container started.
    absl::Duration first_probe = absl::Seconds(1);
  };

  HealthMonitor(ContainerRuntime* runtime, const Clock* clock, Options options);
  ~HealthMonitor();

  // Starts checking targets not seen before and forgets the ones missing.
  void Sync(const std::vector<HealthTarget>& targets);

  struct State {
    gantry::v1::Task::Health health = gantry::v1::Task::UNKNOWN;
    std::string output;
    bool tracked = false;  // the container is being checked
  };
  State Get(const std::string& container_id) const;

  // Runs every due probe on the calling thread.
  void RunDue();

  // Told every probe's result; may be null. Set before Sync.
  void SetObserver(AgentObserver* observer) { observer_ = observer; }

 private:
  struct Entry {
    HealthTarget target;
    HealthPolicy policy;
    absl::Time next_due;
    bool running = false;
    std::string output;
  };
  void Scheduler();
  void Worker();
  void Run(const std::string& id);

  ContainerRuntime* const runtime_;
  const Clock* const clock_;
  const Options options_;
  AgentObserver* observer_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // scheduler wake-ups
  std::condition_variable work_cv_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace gantry::agent
