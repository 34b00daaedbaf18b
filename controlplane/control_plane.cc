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

namespace {

absl::StatusOr<std::unique_ptr<store::Store>> OpenStore(const std::string& data_dir,
                                                        std::string& where) {
  store::SqliteStore::Options store_options;
  if (data_dir.empty()) {
    store_options.path = ":memory:";
  } else {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", data_dir, ": cannot create the directory: ", ec.message()));
    }
    store_options.path = (std::filesystem::path(data_dir) / "state.db").string();
  }
  where = store_options.path;
  auto store = store::SqliteStore::Open(store_options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<store::Store>(std::move(*store));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(const Options& options,
                                                                  const Clock* clock) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  std::string where;
  ASSIGN_OR_RETURN(cp->store_, OpenStore(options.data_dir, where));
  cp->BuildControllers(options, clock);
  // Recover first: the cache is loaded before anything acts or connects.
  RETURN_IF_ERROR(cp->state_->Start());
  RETURN_IF_ERROR(cp->events_->Start());
  cp->api_ = std::make_unique<api::OperatorApi>(cp->state_.get(), cp->events_.get(),
                                                cp->nodes_.get(), clock);
  cp->operator_service_ = std::make_unique<api::OperatorServiceImpl>(
      cp->api_.get(), cp->state_.get(), cp->nodes_.get(), cp->metrics_.get());
  cp->agent_service_ = std::make_unique<api::AgentServiceImpl>(cp->nodes_.get());
  RETURN_IF_ERROR(cp->Serve(options));
  if (!options.http_listen.empty()) RETURN_IF_ERROR(cp->ServeHttp(options.http_listen));
  cp->nodes_->Start();
  cp->controller_->Start();
  cp->autoscaler_->Start();
  cp->alarms_->Start();
  spdlog::info("control plane serving on {} ({}), state in {}", options.listen,
               options.tls.cert.empty() ? "plaintext, loopback only" : "TLS", where);
  return cp;
}

void ControlPlane::BuildControllers(const Options& options, const Clock* clock) {
  state_ = std::make_unique<state::ClusterState>(store_.get());
  metrics_ = std::make_unique<metrics::ControlPlaneMetrics>(state_.get());
  events_ = std::make_unique<events::EventLog>(store_.get(), clock);
  nodes_ = std::make_unique<nodes::NodeManager>(state_.get(), events_.get(), clock, options.nodes);
  if (options.registries) {
    resolver_ = std::make_unique<images::RegistryImageResolver>(*options.registries);
  }
  controller_ = std::make_unique<controllers::ServiceController>(
      state_.get(), events_.get(), clock, options.controller, resolver_.get());
  controller_->SetMetrics(metrics_.get());
  autoscaling::Prometheus* prometheus = options.prometheus;
  if (prometheus == nullptr) {
    own_prometheus_ = std::make_unique<autoscaling::HttpPrometheus>();
    prometheus = own_prometheus_.get();
  }
  autoscaler_ = std::make_unique<autoscaling::Autoscaler>(
      state_.get(), events_.get(), clock, prometheus, metrics_.get(), options.autoscaler);
  alarms_ = std::make_unique<autoscaling::AlarmWatcher>(state_.get(), events_.get(), clock,
                                                        prometheus, metrics_.get(), options.alarms);
  auto* nodes = nodes_.get();
  auto* controller = controller_.get();
  state_->AddListener([nodes, controller](const state::Change& change) {
    nodes->OnStateChange(change);
    controller->MarkDirty(change.services);
    // New or revived capacity may let waiting tasks be placed.
    if (change.node_records) controller->MarkAllDirty();
  });
}

absl::Status ControlPlane::Serve(const Options& options) {
  auto creds = MakeServerCredentials(options.tls, options.listen);
  if (!creds.ok()) return creds.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *creds, &port_);
  builder.RegisterService(operator_service_.get());
  builder.RegisterService(agent_service_.get());
  // Agents keep their stream open with keepalive pings; allow them.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (is another control plane running there? pick another --listen address)"));
  }
  return absl::OkStatus();
}

absl::Status ControlPlane::ServeHttp(const std::string& address) {
  auto* state = state_.get();
  auto* cpm = metrics_.get();
  auto http = http::HttpServer::Start(address, [state, cpm](const std::string& path) {
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
  http_ = std::move(*http);
  return absl::OkStatus();
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
