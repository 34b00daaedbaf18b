#include "controlplane/control_plane.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/message_limits.h"
#include "common/metrics/exposition.h"
#include "common/net_util.h"
#include "common/periodic.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/audit/audit_file.h"
#include "controlplane/ha/etcd_election.h"
#include "controlplane/metrics/discovery.h"
#include "controlplane/secrets/secret_usage.h"
#include "controlplane/store/etcd_store.h"
#include "controlplane/store/open_store.h"
#include "controlplane/store/sqlite_store.h"
#include "controlplane/store/store_meta.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace gantry {

namespace {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// What agents and clients dial to reach this replica.
std::string AdvertisedAddress(const ControlPlane::Options& options, int port) {
  std::string host;
  if (!options.advertise.empty()) {
    host = options.advertise.front();
  } else {
    host = options.listen.substr(0, options.listen.rfind(':'));
    if (host.empty() || host == "0.0.0.0" || host == "[::]") host = HostName();
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(const Options& options,
                                                                  const Clock* clock) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  std::string where;
  RETURN_IF_ERROR(cp->OpenStore(options, where));
  RETURN_IF_ERROR(cp->SetUpIdentity(options, where, clock));
  RETURN_IF_ERROR(cp->OpenAuditLog(options, clock));
  Options with_identity = options;
  with_identity.nodes.cluster_id = cp->pki_->cluster_id();
  cp->BuildControllers(with_identity, clock);
  // Recover first: the cache is loaded before anything acts or connects.
  RETURN_IF_ERROR(cp->state_->Start());
  RETURN_IF_ERROR(cp->events_->Start());
  cp->BuildServices(options, clock);
  RETURN_IF_ERROR(cp->Serve(options));
  if (!options.http_listen.empty()) RETURN_IF_ERROR(cp->ServeHttp(options.http_listen));
  cp->StartElection(options);
  spdlog::info("control plane of cluster {} serving on {} (TLS; CA {}), state in {}",
               cp->pki_->cluster_id(), options.listen, cp->pki_->ca_hash(), where);
  return cp;
}

namespace {

std::vector<std::string> AdvertisedHosts(const ControlPlane::Options& options) {
  if (!options.advertise.empty()) return options.advertise;
  std::vector<std::string> hosts;
  auto listen = ParseHostPort(options.listen);
  if (listen.ok() && !listen->host.empty() && listen->host != "0.0.0.0" && listen->host != "::" &&
      listen->host != "127.0.0.1" && listen->host != "localhost") {
    hosts.push_back(listen->host);
  }
  hosts.push_back("127.0.0.1");
  hosts.push_back("localhost");
  return hosts;
}

// Writes the bootstrap admin token where only root reads it.
absl::Status WriteAdminToken(const std::string& data_dir, const std::string& token) {
  const std::string path = (std::filesystem::path(data_dir) / "admin.token").string();
  return WriteFileAtomically(path, token + "\n", 0600);
}

}  // namespace

absl::Status ControlPlane::SetUpIdentity(const Options& options, const std::string& where,
                                         const Clock* clock) {
  identity::ClusterPki::Options pki;
  pki.data_dir = options.data_dir;
  pki.pki_dir = options.pki_dir;
  pki.advertise = AdvertisedHosts(options);
  pki.tls_cert_file = options.tls.cert;
  pki.tls_key_file = options.tls.key;
  pki.tls_ca_file = options.tls.ca;
  ASSIGN_OR_RETURN(pki_, identity::ClusterPki::LoadOrCreate(pki, clock));
  RETURN_IF_ERROR(store::ClaimStore(store_.get(), pki_->cluster_id(), where));
  tokens_ = std::make_unique<identity::TokenRegistry>(store_.get(), clock);
  RETURN_IF_ERROR(tokens_->Start());
  roles_ = std::make_unique<identity::RoleRegistry>(store_.get());
  RETURN_IF_ERROR(roles_->Start());
  RETURN_IF_ERROR(OpenSecrets(options, clock));
  authorizer_ = std::make_unique<identity::Authorizer>(roles_.get());
  callers_ = std::make_unique<api::CallerAuthenticator>(tokens_.get());
  access_ =
      std::make_unique<api::AccessApi>(tokens_.get(), authorizer_.get(), pki_.get(), roles_.get());
  ASSIGN_OR_RETURN(auto bootstrap, tokens_->EnsureBootstrapAdmin());
  if (!bootstrap.has_value()) return absl::OkStatus();
  bootstrap_token_ = *bootstrap;
  if (!options.data_dir.empty()) {
    RETURN_IF_ERROR(WriteAdminToken(options.data_dir, bootstrap_token_));
    // Once, on the start that created it, as the file says too.
    spdlog::warn(
        "created the bootstrap admin token (also in {}/admin.token, mode 0600; shown only "
        "this once): {}",
        options.data_dir, bootstrap_token_);
  }
  return absl::OkStatus();
}

absl::Status ControlPlane::OpenSecrets(const Options& options, const Clock* clock) {
  absl::StatusOr<secrets::KeyEncryptionKey> kek = absl::UnknownError("unset");
  if (!options.secrets_key_file.empty()) {
    key_files_ = std::make_unique<secrets::KeyFiles>(options.secrets_key_file);
    kek = key_files_->LoadCurrent(/*create=*/false);
    if (!kek.ok()) return Annotate(kek.status(), "--secrets-key-file");
  } else if (options.data_dir.empty() && options.pki_dir.empty()) {
    kek = secrets::KeyEncryptionKey::Generate();  // tests: in memory only
  } else {
    const std::string dir = !options.pki_dir.empty()
                                ? options.pki_dir
                                : (std::filesystem::path(options.data_dir) / "pki").string();
    key_files_ =
        std::make_unique<secrets::KeyFiles>((std::filesystem::path(dir) / "secrets.key").string());
    kek = key_files_->LoadCurrent(/*create=*/true);
  }
  if (!kek.ok()) return kek.status();
  secrets_ = std::make_unique<secrets::SecretRegistry>(store_.get(), *std::move(kek), clock);
  RETURN_IF_ERROR(secrets_->Start());
  // Recover first: a rotation a crash interrupted is finished now.
  if (key_files_ != nullptr)
    RETURN_IF_ERROR(secrets::FinishPendingRotation(*secrets_, *key_files_));
  return absl::OkStatus();
}

absl::Status ControlPlane::OpenAuditLog(const Options& options, const Clock* clock) {
  std::string path = options.audit_log;
  if (path.empty() && !options.data_dir.empty()) {
    path = (std::filesystem::path(options.data_dir) / "audit.log").string();
  }
  std::unique_ptr<audit::Sink> sink;
  std::vector<audit::Entry> recovered;
  if (!path.empty() && path != "off") {
    ASSIGN_OR_RETURN(recovered, audit::AuditFile::ReadTail(path, audit::AuditLog::kDefaultWindow));
    audit::AuditFile::Options file;
    file.path = path;
    file.max_bytes = options.audit_log_max_bytes;
    file.max_files = options.audit_log_max_files;
    ASSIGN_OR_RETURN(sink, audit::AuditFile::Open(file));
  }
  audit_log_ = std::make_unique<audit::AuditLog>(
      clock, std::move(sink), audit::AuditLog::kDefaultWindow, std::move(recovered));
  audit_trail_ = std::make_unique<api::AuditTrail>(audit_log_.get());
  return absl::OkStatus();
}

void ControlPlane::BuildServices(const Options& options, const Clock* clock) {
  api_ = std::make_unique<api::OperatorApi>(state_.get(), events_.get(), nodes_.get(), clock,
                                            roles_.get(), secrets_.get());
  secrets_api_ = std::make_unique<api::SecretsApi>(state_.get(), events_.get(), secrets_.get(),
                                                   clock, key_files_.get());
  api::OperatorServiceImpl::Parts op;
  op.api = api_.get();
  op.secrets = secrets_api_.get();
  op.access = access_.get();
  op.callers = callers_.get();
  caller_limits_ = std::make_unique<api::CallerLimits>(clock, options.caller_limits);
  op.limits = caller_limits_.get();
  op.authorizer = authorizer_.get();
  op.state = state_.get();
  op.nodes = nodes_.get();
  op.metrics = metrics_.get();
  op.audit = audit_trail_.get();
  op.audit_log = audit_log_.get();
  op.leader_elsewhere = [this] { return LeaderElsewhere(); };
  op.list_controlplanes = [this]() -> absl::StatusOr<gantry::v1::ListControlPlanesResponse> {
    const ha::ReplicaRegistry* replicas = live_replicas_.load();
    if (replicas == nullptr) return absl::UnavailableError("the control plane is starting");
    ASSIGN_OR_RETURN(auto list, replicas->List());
    gantry::v1::ListControlPlanesResponse out;
    for (auto& r : list) *out.add_replicas() = std::move(r);
    return out;
  };
  operator_service_ = std::make_unique<api::OperatorServiceImpl>(op);
  api::AgentServiceImpl::Parts ag;
  ag.nodes = nodes_.get();
  ag.callers = callers_.get();
  ag.tokens = tokens_.get();
  ag.pki = pki_.get();
  ag.node_cert_ttl = options.node_cert_ttl;
  ag.audit = audit_trail_.get();
  ag.state = state_.get();
  ag.secrets = secrets_.get();
  ag.leader_elsewhere = [this] { return LeaderElsewhere(); };
  agent_service_ = std::make_unique<api::AgentServiceImpl>(ag);
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
  controller_->SetSecrets(secrets_.get());
  secrets_->SetInUse([state = state_.get()](const std::string& name) {
    return secrets::PinnedVersions(*state, name);
  });
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
  // Client certificates are verified when presented: agents present theirs,
  // operators may (or send a token), a joining node has none yet.
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = pki_->ca_pem();
  tls.pem_key_cert_pairs.push_back({pki_->server_key_pem(), pki_->server_chain_pem()});
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::SslServerCredentials(tls), &port_);
  builder.RegisterService(operator_service_.get());
  builder.RegisterService(agent_service_.get());
  // Agents keep their stream open with keepalive pings; allow them.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 2'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(kMaxApiMessageBytes);
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

absl::Status ControlPlane::OpenStore(const Options& options, std::string& where) {
  if (options.store.empty()) {
    ASSIGN_OR_RETURN(store_, store::OpenSqliteStore(options.data_dir, where));
    return absl::OkStatus();
  }
  where = options.store;
  // The data dir still holds the bootstrap admin token and the audit log.
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--data-dir ", options.data_dir, ": cannot create the directory: ", ec.message()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<store::EtcdStore> etcd,
                   store::OpenEtcdStore(options.store, options.etcd_tls));
  etcd_ = etcd.get();
  auto fenced = std::make_unique<ha::FencedStore>(std::move(etcd));
  fenced_ = fenced.get();
  store_ = std::move(fenced);
  return absl::OkStatus();
}

void ControlPlane::StartElection(const Options& options) {
  gantry::v1::ControlPlaneReplica self;
  self.set_address(AdvertisedAddress(options, port_));
  self.set_name(options.replica_name.empty() ? absl::StrCat(HostName(), ":", port_)
                                             : options.replica_name);
  *self.mutable_started_at() = ToProtoTime(absl::Now());
  if (etcd_ != nullptr) {
    ha::EtcdElection::Options election;
    election.self = self;
    election.lease_ttl = options.leader_lease;
    election_ = std::make_unique<ha::EtcdElection>(&etcd_->client(), election);
  } else {
    election_ = std::make_unique<ha::SoleElection>(self);
  }
  ha::Election::Lost lost = options.on_lost_leadership;
  if (!lost) {
    lost = [] {
      spdlog::critical("exiting: this replica lost its leadership and must stop acting now");
      std::_Exit(3);
    };
  }
  live_election_ = election_.get();
  replicas_ =
      std::make_unique<ha::ReplicaRegistry>(store_.get(), RealClock::Get(), election_.get(), self);
  if (auto st = replicas_->Publish(); !st.ok()) spdlog::warn("replica record: {}", st.message());
  replicas_->Start();
  live_replicas_ = replicas_.get();
  election_->Start([this](const ha::Term& term) { TakeOver(term); }, std::move(lost));
}

std::optional<std::string> ControlPlane::LeaderElsewhere() const {
  const ha::Election* election = live_election_.load();
  if (election == nullptr) return std::string();  // not campaigning yet
  if (election->IsLeader()) return std::nullopt;
  auto leader = election->Leader();
  return leader ? leader->address() : std::string();
}

void ControlPlane::TakeOver(const ha::Term& term) {
  if (fenced_ != nullptr) fenced_->Fence(ha::kLeaderKey, term.epoch);
  nodes_->SetEpoch(term.epoch);
  if (etcd_ != nullptr) {
    // etcd keeps every revision until compacted: the leader keeps the same
    // window of history as SqliteStore does (watches further behind
    // re-list).
    compactor_ = std::make_unique<Periodic>(absl::Minutes(5), [etcd = etcd_] {
      constexpr int64_t kHistory = 100'000;
      const int64_t upto = etcd->Revision() - kHistory;
      if (upto <= 0) return;
      absl::Status st = etcd->Compact(upto);
      if (!st.ok() && !absl::StrContains(st.message(), "compacted")) {
        spdlog::warn("store: compacting etcd history up to revision {}: {}", upto, st.message());
      }
    });
  }
  nodes_->Start();
  controller_->Start();
  autoscaler_->Start();
  alarms_->Start();
}

ControlPlane::~ControlPlane() { Shutdown(); }

void ControlPlane::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  http_.reset();
  // A leader resigns first; its writes are fenced from then on, so the
  // components stopping below can no longer change anything.
  if (replicas_) replicas_->Stop();
  compactor_.reset();
  if (election_) election_->Stop();
  if (autoscaler_) autoscaler_->Stop();
  if (alarms_) alarms_->Stop();
  if (controller_) controller_->Stop();
  if (nodes_) nodes_->Stop();
}

void ControlPlane::Wait() {
  if (server_) server_->Wait();
}

}  // namespace gantry
