#include "agent/metrics/agent_metrics.h"

#include "common/log.h"
#include "common/metrics/exposition.h"

namespace gantry::agent {

using prometheus::MetricType;

AgentMetrics::AgentMetrics(ContainerRuntime* runtime, const HealthMonitor* health, std::string node,
                           std::string zone)
    : runtime_(runtime),
      health_(health),
      node_(std::move(node)),
      zone_(std::move(zone)),
      exits_(prometheus::BuildCounter()
                 .Name("gantry_container_exits_total")
                 .Help("Containers that exited without the agent stopping them. A task whose "
                       "essential container exits is replaced, so this counts restarts.")
                 .Register(registry_)),
      checks_(prometheus::BuildCounter()
                  .Name("gantry_health_checks_total")
                  .Help("Health-check probes run, by result (pass or fail).")
                  .Register(registry_)),
      check_seconds_(prometheus::BuildHistogram()
                         .Name("gantry_health_check_duration_seconds")
                         .Help("How long health-check probes took.")
                         .Register(registry_)),
      pulls_(prometheus::BuildCounter()
                 .Name("gantry_image_pulls_total")
                 .Help("Image pulls, by result (success or failure).")
                 .Register(registry_)),
      pull_seconds_(prometheus::BuildHistogram()
                        .Name("gantry_image_pull_duration_seconds")
                        .Help("How long image pulls took.")
                        .Register(registry_)) {}

void AgentMetrics::ContainerExited(const std::string& service, const std::string& task,
                                   const std::string& container) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& exits = exits_.Add({{"service", service},
                            {"task", task},
                            {"container", container},
                            {"node", node_},
                            {"zone", zone_}});
  exits.Increment();
  task_series_[task].exits.insert(&exits);
}

void AgentMetrics::HealthChecked(const std::string& service, const std::string& task,
                                 const std::string& container, bool passed, absl::Duration took) {
  const std::map<std::string, std::string> labels = {{"service", service},
                                                     {"task", task},
                                                     {"container", container},
                                                     {"node", node_},
                                                     {"zone", zone_}};
  auto with_result = labels;
  with_result["result"] = passed ? "pass" : "fail";
  std::lock_guard<std::mutex> lock(mu_);
  auto& checks = checks_.Add(with_result);
  checks.Increment();
  auto& seconds = check_seconds_.Add(labels, metrics::LatencyBuckets());
  seconds.Observe(absl::ToDoubleSeconds(took));
  auto& series = task_series_[task];
  series.checks.insert(&checks);
  series.check_seconds.insert(&seconds);
}

void AgentMetrics::TaskForgotten(const std::string& task) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = task_series_.find(task);
  if (it == task_series_.end()) return;
  for (auto* c : it->second.exits) exits_.Remove(c);
  for (auto* c : it->second.checks) checks_.Remove(c);
  for (auto* h : it->second.check_seconds) check_seconds_.Remove(h);
  task_series_.erase(it);
}

void AgentMetrics::ImagePulled(bool ok, absl::Duration took) {
  pulls_.Add({{"result", ok ? "success" : "failure"}, {"node", node_}, {"zone", zone_}})
      .Increment();
  pull_seconds_
      .Add({{"node", node_}, {"zone", zone_}},
           prometheus::Histogram::BucketBoundaries{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300})
      .Observe(absl::ToDoubleSeconds(took));
}

std::vector<prometheus::MetricFamily> AgentMetrics::Collect() const {
  auto up = metrics::NewFamily("gantry_agent_runtime_up",
                               "Whether containerd answered the last scrape (1) or not (0).",
                               MetricType::Gauge);
  auto cpu =
      metrics::NewFamily("gantry_container_cpu_seconds_total",
                         "CPU time the container used, from its cgroup.", MetricType::Counter);
  auto mem = metrics::NewFamily("gantry_container_memory_usage_bytes",
                                "Memory the container uses, from its cgroup.", MetricType::Gauge);
  auto limit = metrics::NewFamily("gantry_container_memory_limit_bytes",
                                  "The container's memory limit (absent when unlimited).",
                                  MetricType::Gauge);
  auto health = metrics::NewFamily(
      "gantry_container_healthy",
      "1 while the container passes its health check, 0 while it fails it; absent until known "
      "and for containers without one.",
      MetricType::Gauge);
  auto running = metrics::NewFamily("gantry_containers_running",
                                    "Containers of the agent that are running.", MetricType::Gauge);
  // One listing (for the labels) and one statistics call per scrape.
  std::vector<ContainerInfo> containers;
  std::vector<std::string> ids;
  absl::StatusOr<std::map<std::string, ContainerStats>> stats =
      std::map<std::string, ContainerStats>();
  auto list = runtime_->List();
  if (list.ok()) {
    for (auto& c : *list) {
      if (c.state != ContainerState::kRunning) continue;
      ids.push_back(c.id);
      containers.push_back(std::move(c));
    }
    if (!ids.empty()) stats = runtime_->Stats(ids);
  }
  const absl::Status st = !list.ok() ? list.status() : stats.status();
  if (!st.ok()) spdlog::debug("metrics: {}", st.message());
  metrics::AddSample(up, {{"node", node_}, {"zone", zone_}}, st.ok() ? 1 : 0);
  for (const auto& c : containers) {
    auto label = [&](const char* key) {
      auto it = c.labels.find(key);
      return it == c.labels.end() ? std::string() : it->second;
    };
    const metrics::Labels labels = {{"service", label(kLabelService)},
                                    {"task", label(kLabelTaskId)},
                                    {"container", label(kLabelContainer)},
                                    {"node", node_},
                                    {"zone", zone_}};
    if (stats.ok()) {
      if (auto it = stats->find(c.id); it != stats->end()) {
        metrics::AddSample(cpu, labels, it->second.cpu_seconds);
        metrics::AddSample(mem, labels, static_cast<double>(it->second.memory_bytes));
        if (it->second.memory_limit > 0) {
          metrics::AddSample(limit, labels, static_cast<double>(it->second.memory_limit));
        }
      }
    }
    if (health_ != nullptr) {
      const auto state = health_->Get(c.id);
      if (state.health == gantry::v1::Task::HEALTHY) metrics::AddSample(health, labels, 1);
      if (state.health == gantry::v1::Task::UNHEALTHY) metrics::AddSample(health, labels, 0);
    }
  }
  const int n = static_cast<int>(containers.size());
  metrics::AddSample(running, {{"node", node_}, {"zone", zone_}}, n);
  return {up, running, cpu, mem, limit, health};
}

std::string AgentMetrics::Render() const { return metrics::Render({&registry_, this}); }

}  // namespace gantry::agent
