#pragma once

// Helpers shared by the control plane's and the agent's /metrics: building
// metric families computed at scrape time, and rendering them in
// Prometheus' text format.

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace gantry::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

prometheus::MetricFamily NewFamily(std::string name, std::string help, prometheus::MetricType type);
// Appends one sample (a gauge, counter or untyped value by the family's type).
void AddSample(prometheus::MetricFamily& family, const Labels& labels, double value);

// The text exposition of everything the collectables hold.
std::string Render(std::initializer_list<const prometheus::Collectable*> collectables);

inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Default latency buckets, in seconds: 0.5 ms to 10 s.
std::vector<double> LatencyBuckets();

}  // namespace gantry::metrics
