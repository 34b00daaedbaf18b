#pragma once

// The agent's Prometheus metrics. Events (container exits, health checks,
// image pulls) are counted as they happen; per-container resource use and
// health are read at scrape time — CPU and memory from containerd's task
// metrics (the containers' cgroups) — so a container that is gone simply
// stops appearing. Every per-container series is labelled service, task,
// container, node and zone.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/health/health_monitor.h"
#include "agent/metrics/observer.h"
#include "agent/runtime/container_runtime.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace gantry::agent {

class AgentMetrics final : public AgentObserver, public prometheus::Collectable {
 public:
  // `health` may be null.
  AgentMetrics(ContainerRuntime* runtime, const HealthMonitor* health, std::string node,
               std::string zone);

  void ContainerExited(const std::string& service, const std::string& task,
                       const std::string& container) override;
  void HealthChecked(const std::string& service, const std::string& task,
                     const std::string& container, bool passed, absl::Duration took) override;
  void ImagePulled(bool ok, absl::Duration took) override;
  void TaskForgotten(const std::string& task) override;

  // The per-container series, read now.
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Everything, in Prometheus' text format.
  std::string Render() const;

 private:
  ContainerRuntime* const runtime_;
  const HealthMonitor* const health_;
  const std::string node_;
  const std::string zone_;
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& exits_;
  prometheus::Family<prometheus::Counter>& checks_;
  prometheus::Family<prometheus::Histogram>& check_seconds_;
  prometheus::Family<prometheus::Counter>& pulls_;
  prometheus::Family<prometheus::Histogram>& pull_seconds_;

  // Each task's event series, removed when the agent forgets the task so a
  // long-lived agent does not keep a series for every task it ever ran.
  struct TaskSeries {
    std::set<prometheus::Counter*> exits;
    std::set<prometheus::Counter*> checks;
    std::set<prometheus::Histogram*> check_seconds;
  };
  std::mutex mu_;
  std::map<std::string, TaskSeries> task_series_;  // guarded by mu_
};

}  // namespace gantry::agent
