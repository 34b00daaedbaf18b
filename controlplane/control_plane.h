#pragma once

// Wires the control plane together: state store, cluster state, event log,
// node manager, service controller, autoscaler and alarm watcher, the gRPC
// server and the HTTP server for metrics and Prometheus discovery. main.cc and the
// integration tests both start the control plane through this class.
//
// Start-up order follows "recover first": the store is opened and the state
// loaded before any controller runs or any agent can connect.
//
// The cluster's identity (identity/cluster_pki.h) is created on first start
// and reused; the server always speaks TLS, loopback included, and every
// call is authenticated and authorized (api/caller.h, identity/authorizer.h).
// On a store without an admin token, a bootstrap admin token is created,
// written once to <data dir>/admin.token (0600) and logged once. The audit
// log (audit/audit_log.h) goes to <data dir>/audit.log, 0600. Secrets are
// sealed with the key-encryption key in <pki dir>/secrets.key (0600,
// created on first start) or --secrets-key-file.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/http/server.h"
#include "common/tls.h"
#include "controlplane/api/access_api.h"
#include "controlplane/api/agent_service.h"
#include "controlplane/api/audit_trail.h"
#include "controlplane/api/caller.h"
#include "controlplane/api/caller_limits.h"
#include "controlplane/api/operator_api.h"
#include "controlplane/api/operator_service.h"
#include "controlplane/api/secrets_api.h"
#include "controlplane/audit/audit_log.h"
#include "controlplane/autoscaling/alarms.h"
#include "controlplane/autoscaling/autoscaler.h"
#include "controlplane/controllers/service_controller.h"
#include "controlplane/events/event_log.h"
#include "controlplane/ha/election.h"
#include "controlplane/ha/fenced_store.h"
#include "controlplane/ha/replica_registry.h"
#include "controlplane/identity/authorizer.h"
#include "controlplane/identity/cluster_pki.h"
#include "controlplane/identity/role_registry.h"
#include "controlplane/identity/token_registry.h"
#include "controlplane/images/image_resolver.h"
#include "controlplane/metrics/cp_metrics.h"
#include "controlplane/nodes/node_manager.h"
#include "controlplane/secrets/key_files.h"
#include "controlplane/secrets/secret_registry.h"
#include "controlplane/state/cluster_state.h"
#include "controlplane/store/etcd_store.h"
#include "controlplane/store/store.h"
#include "grpcpp/server.h"

namespace gantry {

class ControlPlane {
 public:
  struct Options {
    std::string listen = "127.0.0.1:7070";
    // Holds state.db (and pki/, admin.token, audit.log). Empty: an
    // in-memory store (tests only).
    std::string data_dir;
    // Empty: SQLite in data_dir. "etcd://HOST:PORT[,HOST:PORT...]": etcd v3,
    // with etcd_tls (--etcd-ca/--etcd-cert/--etcd-key) when it serves TLS.
    std::string store;
    TlsFiles etcd_tls;
    // The cluster PKI's directory (default data_dir/pki); see ClusterPki.
    std::string pki_dir;
    // The key-encryption key for secrets (32 bytes, 0600); empty:
    // pki_dir/secrets.key, created on first start (in memory without a
    // data dir). Replicas on one etcd need the same key.
    std::string secrets_key_file;
    // An operator's own PKI instead of the cluster's: cert, key and CA.
    TlsFiles tls;
    // Names and addresses clients dial; the server certificate covers them.
    // Empty: the listen address, 127.0.0.1 and localhost.
    std::vector<std::string> advertise;
    absl::Duration node_cert_ttl = absl::Hours(24);
    nodes::NodeManager::Options nodes;
    controllers::ServiceController::Options controller;
    // Registries for pinning image digests; pinning is off when null.
    std::optional<registry::RegistryConfig> registries;
    // Serves /metrics and Prometheus service discovery (/sd/tasks,
    // /sd/agents) over plain HTTP; empty turns it off.
    std::string http_listen;
    autoscaling::Autoscaler::Options autoscaler;
    autoscaling::AlarmWatcher::Options alarms;
    // Per-caller limits on the operator API.
    api::CallerLimits::Options caller_limits;
    // Answers the autoscaler's and alarms' queries; null: Prometheus' HTTP
    // API through libcurl. Tests inject a fake.
    autoscaling::Prometheus* prometheus = nullptr;
    // The audit log's file: empty means <data dir>/audit.log (in memory
    // only without a data dir), "off" keeps it in memory only.
    std::string audit_log;
    int64_t audit_log_max_bytes = int64_t{100} << 20;
    int audit_log_max_files = 5;
    // Among replicas on one etcd: this one's name (default: the host name
    // and the listen port) and the leader lease (--leader-lease).
    std::string replica_name;
    absl::Duration leader_lease = absl::Seconds(2);
    // Called once if this replica loses its leadership (its lease lapsed):
    // it must stop acting at once. Default: exit with status 3, for systemd
    // (or gantry-controlplane's own main) to start it again as a follower.
    std::function<void()> on_lost_leadership;
  };

  static absl::StatusOr<std::unique_ptr<ControlPlane>> Start(const Options& options,
                                                             const Clock* clock);
  ~ControlPlane();

  // The port the server is bound to (useful with port 0).
  int port() const { return port_; }
  // The HTTP port (0 when off).
  int http_port() const { return http_ ? http_->port() : 0; }
  // The bootstrap admin token when this start created it, else "".
  const std::string& bootstrap_token() const { return bootstrap_token_; }
  const identity::ClusterPki& pki() const { return *pki_; }
  identity::TokenRegistry* tokens() { return tokens_.get(); }
  // Stops serving and joins all threads. Idempotent.
  void Shutdown();
  void Wait();

  state::ClusterState* state() { return state_.get(); }
  nodes::NodeManager* node_manager() { return nodes_.get(); }
  controllers::ServiceController* controller() { return controller_.get(); }
  autoscaling::Autoscaler* autoscaler() { return autoscaler_.get(); }
  autoscaling::AlarmWatcher* alarms() { return alarms_.get(); }
  metrics::ControlPlaneMetrics* metrics() { return metrics_.get(); }
  const audit::AuditLog& audit_log() const { return *audit_log_; }
  const ha::Election& election() const { return *election_; }

 private:
  ControlPlane() = default;
  // Start()'s steps.
  void BuildControllers(const Options& options, const Clock* clock);
  absl::Status Serve(const Options& options);
  absl::Status ServeHttp(const std::string& address);
  // `where` names the store in errors.
  absl::Status SetUpIdentity(const Options& options, const std::string& where, const Clock* clock);
  absl::Status OpenAuditLog(const Options& options, const Clock* clock);
  absl::Status OpenSecrets(const Options& options, const Clock* clock);
  void BuildServices(const Options& options, const Clock* clock);
  absl::Status OpenStore(const Options& options, std::string& where);
  void StartElection(const Options& options);
  // This replica won the election: fence its writes, start what acts.
  void TakeOver(const ha::Term& term);
  // nullopt while this replica leads, else the leader's address ("" when
  // none is known yet).
  std::optional<std::string> LeaderElsewhere() const;

  std::unique_ptr<store::Store> store_;
  store::EtcdStore* etcd_ = nullptr;   // store_'s, when on etcd
  ha::FencedStore* fenced_ = nullptr;  // store_ itself, when on etcd
  std::unique_ptr<ha::Election> election_;
  std::unique_ptr<ha::ReplicaRegistry> replicas_;
  std::unique_ptr<Periodic> compactor_;  // the leader's, on etcd
  // election_ and replicas_ for the serving threads, which start before
  // they exist.
  std::atomic<const ha::Election*> live_election_{nullptr};
  std::atomic<const ha::ReplicaRegistry*> live_replicas_{nullptr};
  std::unique_ptr<metrics::ControlPlaneMetrics> metrics_;
  std::unique_ptr<state::ClusterState> state_;
  std::unique_ptr<events::EventLog> events_;
  std::unique_ptr<nodes::NodeManager> nodes_;
  std::unique_ptr<images::ImageResolver> resolver_;
  std::unique_ptr<controllers::ServiceController> controller_;
  std::unique_ptr<identity::ClusterPki> pki_;
  std::unique_ptr<identity::TokenRegistry> tokens_;
  std::unique_ptr<identity::RoleRegistry> roles_;  // custom roles, for authorizer_
  std::unique_ptr<identity::Authorizer> authorizer_;
  std::unique_ptr<secrets::KeyFiles> key_files_;  // null: the key is in memory only
  std::unique_ptr<secrets::SecretRegistry> secrets_;
  std::unique_ptr<api::SecretsApi> secrets_api_;
  std::unique_ptr<api::CallerAuthenticator> callers_;
  std::unique_ptr<api::CallerLimits> caller_limits_;
  std::unique_ptr<api::AccessApi> access_;
  std::unique_ptr<audit::AuditLog> audit_log_;
  std::unique_ptr<api::AuditTrail> audit_trail_;
  std::string bootstrap_token_;
  std::unique_ptr<api::OperatorApi> api_;
  std::unique_ptr<api::OperatorServiceImpl> operator_service_;
  std::unique_ptr<api::AgentServiceImpl> agent_service_;
  std::unique_ptr<autoscaling::Prometheus> own_prometheus_;
  std::unique_ptr<autoscaling::Autoscaler> autoscaler_;
  std::unique_ptr<autoscaling::AlarmWatcher> alarms_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<http::HttpServer> http_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace gantry
