#include "agent/metrics/metrics_endpoint.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics/exposition.h"
#include "common/net_util.h"

namespace gantry::agent {

http::Response MetricsEndpoint::Handle(const std::string& path) const {
  if (path != "/metrics") return http::Response{404, "text/plain", "try /metrics\n"};
  const AgentMetrics* metrics = metrics_.load();
  if (metrics == nullptr) return http::Response{503, "text/plain", "starting\n"};
  return http::Response{200, metrics::kContentType, metrics->Render()};
}

std::string MetricsEndpoint::Advertised(const std::string& listen,
                                        const std::string& node_address) {
  auto hp = ParseHostPort(listen);
  if (!hp.ok()) return listen;
  return hp->host == "0.0.0.0" ? absl::StrCat(node_address, ":", hp->port) : listen;
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen, const std::string& node_address) {
  auto endpoint = std::make_unique<MetricsEndpoint>();
  if (listen == "off") return endpoint;
  const std::string address =
      listen.empty() ? absl::StrCat(node_address, ":", kDefaultPort) : listen;
  auto hp = ParseHostPort(address);
  if (!hp.ok() || hp->port == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics-listen ", address, ": expected HOST:PORT with a fixed port, or off"));
  }
  auto server = http::HttpServer::Start(
      address, [self = endpoint.get()](const std::string& path) { return self->Handle(path); });
  if (!server.ok()) {
    if (!listen.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metrics-listen: ", server.status().message()));
    }
    // The default address may not be this host's (a node whose address
    // lives in a network namespace): run without metrics, say so.
    spdlog::warn("metrics: {}; set --metrics-listen HOST:PORT to serve /metrics",
                 server.status().message());
    return endpoint;
  }
  endpoint->server_ = std::move(*server);
  endpoint->advertised_ = Advertised(address, node_address);
  return endpoint;
}

}  // namespace gantry::agent
