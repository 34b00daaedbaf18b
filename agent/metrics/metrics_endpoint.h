#pragma once

// Serves an agent's /metrics over plain HTTP. The endpoint is started
// before the agent it serves exists, because the address it listens on goes
// into the agent's registration: only an address that really serves is
// advertised. Until Serve() it answers 503 "starting"; other paths get 404.
//
// Where it listens: `listen` as configured (--metrics-listen). Empty means
// the node's address on port 7072, and failing to listen there only warns
// (a node address that lives in another network namespace cannot be bound
// here); "off" serves nothing; anything else must be HOST:PORT with a fixed
// port and failing to listen there is an error. A wildcard host (0.0.0.0)
// is advertised as the node's address.
//
// Thread-safe: Handle() runs on the HTTP workers; Serve() may be called from
// any thread. The AgentMetrics passed to Serve() must outlive the endpoint.

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/metrics/agent_metrics.h"
#include "common/http/server.h"

namespace gantry::agent {

class MetricsEndpoint {
 public:
  static constexpr int kDefaultPort = 7072;

  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& listen,
                                                                const std::string& node_address);
  // Not listening: answers Handle() only (tests, and "off").
  MetricsEndpoint() = default;
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // What registration tells Prometheus to scrape; empty when not serving.
  const std::string& advertised() const { return advertised_; }
  void Serve(const AgentMetrics* metrics) { metrics_.store(metrics); }
  http::Response Handle(const std::string& path) const;

  // HOST:PORT as advertised for `listen`: a wildcard host is no address.
  static std::string Advertised(const std::string& listen, const std::string& node_address);

 private:
  std::atomic<const AgentMetrics*> metrics_{nullptr};
  std::string advertised_;
  std::unique_ptr<http::HttpServer> server_;  // last: stops before the rest goes
};

}  // namespace gantry::agent
