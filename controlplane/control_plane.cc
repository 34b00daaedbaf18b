#include "controlplane/control_plane.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics/exposition.h"
#include "common/status_util.h"
#include "controlplane/metrics/discovery.h"
#include "controlplane/store/sqlite_store.h"
#include "grpcpp/server_builder.h"

namespace gantry {

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(const Options& options,
                                                                  const Clock* clock) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());

  store::SqliteStore::Options store_options;
  if (options.data_dir.empty()) {
    store_options.path = ":memory:";
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--data-dir ", options.data_dir, ": cannot create the directory: ", ec.message()));
    }
    store_options.path = (std::filesystem::path(options.data_dir) / "state.db").string();
  }
  auto store = store::SqliteStore::Open(store_options);
  if (!store.ok()) return store.status();
  cp->store_ = std::move(*store);

  cp->state_ = std::make_unique<state::ClusterState>(cp->store_.get());
  cp->metrics_ = std::make_unique<metrics::ControlPlaneMetrics>(cp->state_.get());
  cp->events_ = std::make_unique<events::EventLog>(cp->store_.get(), clock);
  cp->nodes_ = std::make_unique<nodes::NodeManager>(cp->state_.get(), cp->events_.get(), clock,
                                                    options.nodes);
  if (options.registries) {
    cp->resolver_ = std::make_unique<images::RegistryImageResolver>(*options.registries);
  }
  cp->controller_ = std::make_unique<controllers::ServiceController>(
      cp->state_.get(), cp->events_.get(), clock, options.controller, cp->resolver_.get());
  cp->controller_->SetMetrics(cp->metrics_.get());
  autoscaling::Prometheus* prometheus = options.prometheus;
  if (prometheus == nullptr) {
    cp->own_prometheus_ = std::make_unique<autoscaling::HttpPrometheus>();
    prometheus = cp->own_prometheus_.get();
  }
  cp->autoscaler_ =
      std::make_unique<autoscaling::Autoscaler>(cp->state_.get(), cp->events_.get(), clock,
                                                prometheus, cp->metrics_.get(), options.autoscaler);
  cp->alarms_ = std::make_unique<autoscaling::AlarmWatcher>(
      cp->state_.get(), cp->events_.get(), prometheus, cp->metrics_.get(), options.alarms);
  auto* nodes = cp->nodes_.get();
  auto* controller = cp->controller_.get();
  cp->state_->AddListener([nodes, controller](const state::Change& change) {
    nodes->OnStateChange(change);
    controller->MarkDirty(change.services);
    // New or revived capacity may let waiting tasks be placed.
    if (change.node_records) controller->MarkAllDirty();
  });
  if (auto st = cp->state_->Start(); !st.ok()) return st;
  if (auto st = cp->events_->Start(); !st.ok()) return st;

  cp->api_ = std::make_unique<api::OperatorApi>(cp->state_.get(), cp->events_.get(),
                                                cp->nodes_.get(), clock);
  cp->operator_service_ = std::make_unique<api::OperatorServiceImpl>(
      cp->api_.get(), cp->state_.get(), cp->nodes_.get(), cp->metrics_.get());
  cp->agent_service_ = std::make_unique<api::AgentServiceImpl>(cp->nodes_.get());

  auto creds = MakeServerCredentials(options.tls, options.listen);
  if (!creds.ok()) return creds.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *creds, &cp->port_);
  builder.RegisterService(cp->operator_service_.get());
  builder.RegisterService(cp->agent_service_.get());
  // Agents keep their stream open with keepalive pings; allow them.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  cp->server_ = builder.BuildAndStart();
  if (cp->server_ == nullptr || cp->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (is another control plane running there? pick another --listen address)"));
  }
  if (!options.http_listen.empty()) {
    auto* state = cp->state_.get();
    auto* cpm = cp->metrics_.get();
    auto http = http::HttpServer::Start(options.http_listen, [state, cpm](const std::string& path) {
      if (path == "/metrics") return http::Response{200, metrics::kContentType, cpm->Render()};
      if (path == "/sd/tasks") {
        return http::Response{200, "application/json", metrics::TaskTargets(*state)};
      }
      if (path == "/sd/agents") {
        return http::Response{200, "application/json", metrics::AgentTargets(*state)};
      }
      return http::Response{404, "text/plain; charset=utf-8",
                            "not found; try /metrics, /sd/tasks or /sd/agents\n"};
    });
    if (!http.ok()) return Annotate(http.status(), "--http-listen");
    cp->http_ = std::move(*http);
  }
  cp->nodes_->Start();
  cp->controller_->Start();
  cp->autoscaler_->Start();
  cp->alarms_->Start();
  spdlog::info("control plane serving on {} ({}), state in {}", options.listen,
               options.tls.cert.empty() ? "plaintext, loopback only" : "TLS", store_options.path);
  return cp;
}

ControlPlane::~ControlPlane() { Shutdown(); }

void ControlPlane::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  http_.reset();
  if (autoscaler_) autoscaler_->Stop();
  if (alarms_) alarms_->Stop();
  if (controller_) controller_->Stop();
  if (nodes_) nodes_->Stop();
}

void ControlPlane::Wait() {
  if (server_) server_->Wait();
}

}  // namespace gantry
