// gantry-controlplane: flag parsing and wiring only; see control_plane.h.

#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/cidr.h"
#include "common/log.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "common/registry/registry_config.h"
#include "common/signals.h"
#include "controlplane/control_plane.h"
#include "controlplane/store_tools.h"

namespace {

absl::Duration ParseFlagDuration(const std::string& flag, const std::string& value) {
  auto d = gantry::ParseDurationText(value);
  if (!d.ok()) {
    std::cerr << "gantry-controlplane: " << flag << ": " << d.status().message() << "\n";
    std::exit(2);
  }
  return *d;
}

// Flags as given; turned into ControlPlane::Options by ToOptions().
struct Flags {
  std::string log_level = "info";
  std::string grace = "10s";
  std::string node_cert_ttl = "24h";
  std::string heartbeat = "2s";
  std::string retention = "1h";
  std::string http_listen = "127.0.0.1:7071";
  std::string autoscale_interval = "15s";
  std::string alarm_interval = "10s";
  std::string alarm_unavailable_timeout = "5m";
  std::string registry_config;
  int64_t audit_log_max_mib = 100;
  std::vector<std::string> insecure_registries;
  bool no_pin = false;
  std::string leader_lease = "2s";
  std::string task_cidr = "10.200.0.0/16";
  int task_subnet_size = 24;
};

// Where the state and the cluster's identity live: the server's flags, and
// those of `restore` and `migrate` for their target.
void AddStoreFlags(CLI::App& app, std::string& data_dir, std::string& pki_dir, std::string& store,
                   gantry::TlsFiles& etcd_tls) {
  app.add_option("--data-dir", data_dir,
                 "directory for the SQLite state store, the cluster PKI (pki/), the bootstrap "
                 "admin token and the audit log (required)");
  app.add_option("--store", store,
                 "etcd://HOST:PORT[,HOST:PORT...]: keep the state in etcd v3 (for several "
                 "control planes) instead of SQLite in --data-dir");
  app.add_option("--etcd-ca", etcd_tls.ca,
                 "CA (PEM) that signs etcd's server certificates: talk to etcd over TLS");
  app.add_option("--etcd-cert", etcd_tls.cert,
                 "client certificate (PEM) for etcd, with --etcd-key and --etcd-ca");
  app.add_option("--etcd-key", etcd_tls.key, "client private key (PEM) for etcd");
  app.add_option("--pki-dir", pki_dir,
                 "the cluster PKI (default DATA_DIR/pki); a second or third replica on one etcd "
                 "points this at a copy of the first replica's pki directory");
}

void AddFlags(CLI::App& app, gantry::ControlPlane::Options& options, Flags& f) {
  app.add_option("--listen", options.listen, "gRPC address (HOST:PORT)")->capture_default_str();
  AddStoreFlags(app, options.data_dir, options.pki_dir, options.store, options.etcd_tls);
  app.add_option("--secrets-key-file", options.secrets_key_file,
                 "the key-encryption key that seals secrets (32 bytes, mode 0600; default "
                 "PKI_DIR/secrets.key, created on first start); every replica on one etcd needs "
                 "the same file");
  app.add_option("--replica-name", options.replica_name,
                 "this replica's name among control planes on one etcd (default: host name and "
                 "listen port)");
  app.add_option("--leader-lease", f.leader_lease,
                 "with --store etcd://: the leader's lease; a replica takes over this long after "
                 "the leader stops renewing it (whole seconds)")
      ->capture_default_str();
  app.add_option("--advertise-address", options.advertise,
                 "name or address clients dial, covered by the server certificate (repeatable; "
                 "default: the listen address, 127.0.0.1 and localhost)");
  app.add_option("--node-cert-ttl", f.node_cert_ttl,
                 "lifetime of the node certificates issued to joining agents")
      ->capture_default_str();
  app.add_option("--tls-cert", options.tls.cert,
                 "your own PKI: server certificate (PEM), with --tls-key and --tls-ca "
                 "(default: the cluster CA in DATA_DIR/pki)");
  app.add_option("--tls-key", options.tls.key, "your own PKI: server private key (PEM)");
  app.add_option("--tls-ca", options.tls.ca,
                 "your own PKI: the CA that signs node and operator certificates");
  app.add_option("--heartbeat-grace", f.grace, "a node not heard from for this long is DOWN")
      ->capture_default_str();
  app.add_option("--heartbeat-interval", f.heartbeat, "how often agents send heartbeats")
      ->capture_default_str();
  app.add_option("--stopped-task-retention", f.retention, "how long stopped tasks stay visible")
      ->capture_default_str();
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--http-listen", f.http_listen,
                 "HTTP address for /metrics and Prometheus discovery (/sd/tasks, /sd/agents), "
                 "or off")
      ->capture_default_str();
  app.add_option("--autoscale-interval", f.autoscale_interval,
                 "how often autoscaled services are evaluated")
      ->capture_default_str();
  app.add_option("--alarm-interval", f.alarm_interval,
                 "how often the alarms of deployments in progress are evaluated")
      ->capture_default_str();
  app.add_option("--alarm-unavailable-timeout", f.alarm_unavailable_timeout,
                 "how long a deployment whose alarms cannot be evaluated holds before it fails "
                 "(or proceeds, as the service's alarms.onUnavailable says)")
      ->capture_default_str();
  app.add_option("--registry-config", f.registry_config,
                 "YAML file with a registries section (credentials, insecure hosts)");
  app.add_option("--insecure-registry", f.insecure_registries,
                 "registry HOST[:PORT] spoken to over plain HTTP (repeatable)");
  app.add_option("--api-rate-limit", options.caller_limits.requests_per_second,
                 "operator API requests a second each caller (token or certificate) may make "
                 "on average; 0: no limit")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--api-burst", options.caller_limits.burst,
                 "requests a caller may make at once beyond --api-rate-limit")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--api-streams-per-caller", options.caller_limits.streams,
                 "log and snapshot streams one caller may hold open at once; 0: no limit")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--audit-log", options.audit_log,
                 "audit log file, JSON lines, 0600 (default DATA_DIR/audit.log; off: in memory "
                 "only, for gantryctl audit)");
  app.add_option("--audit-log-max-size", f.audit_log_max_mib,
                 "rotate the audit log past this many MiB")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--audit-log-max-files", options.audit_log_max_files,
                 "rotated audit log files kept (audit.log.1 ... audit.log.N)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--task-cidr", f.task_cidr,
                 "IPv4 block each node's task subnet is taken from (networkMode task); no node "
                 "address may lie in it")
      ->capture_default_str();
  app.add_option("--task-subnet-size", f.task_subnet_size,
                 "prefix length of each node's task subnet (24: 254 task addresses per node)")
      ->capture_default_str();
  app.add_flag("--no-pin-digests", f.no_pin,
               "run images by tag instead of pinning each deployment to a digest");
}

// Exits with a message naming the flag on a bad value.
void ToOptions(const Flags& f, gantry::ControlPlane::Options& options) {
  options.nodes.heartbeat_grace = ParseFlagDuration("--heartbeat-grace", f.grace);
  options.node_cert_ttl = ParseFlagDuration("--node-cert-ttl", f.node_cert_ttl);
  if (options.node_cert_ttl < absl::Minutes(10)) {
    std::cerr << "gantry-controlplane: --node-cert-ttl must be at least 10m\n";
    std::exit(2);
  }
  options.nodes.heartbeat_interval = ParseFlagDuration("--heartbeat-interval", f.heartbeat);
  auto cidr = gantry::ParseIpv4Cidr(f.task_cidr);
  if (!cidr.ok()) {
    std::cerr << "gantry-controlplane: --task-cidr " << cidr.status().message() << "\n";
    std::exit(2);
  }
  options.nodes.task_network = {*cidr, f.task_subnet_size};
  if (auto st = gantry::nodes::ValidateTaskNetwork(options.nodes.task_network); !st.ok()) {
    std::cerr << "gantry-controlplane: " << st.message() << "\n";
    std::exit(2);
  }
  options.controller.stopped_task_retention =
      ParseFlagDuration("--stopped-task-retention", f.retention);
  options.http_listen = f.http_listen == "off" ? "" : f.http_listen;
  options.leader_lease = ParseFlagDuration("--leader-lease", f.leader_lease);
  if (options.leader_lease < absl::Seconds(2) ||
      options.leader_lease != absl::Trunc(options.leader_lease, absl::Seconds(1))) {
    std::cerr << "gantry-controlplane: --leader-lease must be whole seconds, at least 2s (etcd "
                 "grants leases in seconds and no shorter than its election timeout)\n";
    std::exit(2);
  }
  options.audit_log_max_bytes = f.audit_log_max_mib << 20;
  options.autoscaler.interval = ParseFlagDuration("--autoscale-interval", f.autoscale_interval);
  options.alarms.interval = ParseFlagDuration("--alarm-interval", f.alarm_interval);
  options.alarms.unavailable_timeout =
      ParseFlagDuration("--alarm-unavailable-timeout", f.alarm_unavailable_timeout);
  if (options.autoscaler.interval <= absl::ZeroDuration() ||
      options.alarms.interval <= absl::ZeroDuration() ||
      options.alarms.unavailable_timeout <= absl::ZeroDuration()) {
    std::cerr << "gantry-controlplane: --autoscale-interval, --alarm-interval and "
                 "--alarm-unavailable-timeout must be > 0\n";
    std::exit(2);
  }
  if (f.no_pin) return;
  gantry::registry::RegistryConfig registries;
  // Resolution runs on the controller's thread: keep it short.
  registries.connect_timeout = absl::Seconds(5);
  registries.request_timeout = absl::Seconds(10);
  if (!f.registry_config.empty()) {
    if (auto st = gantry::registry::LoadRegistryConfigFile(f.registry_config, registries);
        !st.ok()) {
      std::cerr << "gantry-controlplane: --registry-config " << st.message() << "\n";
      std::exit(2);
    }
  }
  for (const auto& host : f.insecure_registries) registries.hosts[host].insecure = true;
  options.registries = registries;
}

// `restore` and `migrate`: the target store's flags, as the server's.
void AddTargetFlags(CLI::App& cmd, gantry::StoreTarget& t) {
  AddStoreFlags(cmd, t.data_dir, t.pki_dir, t.store, t.etcd_tls);
}

}  // namespace

int main(int argc, char** argv) {
  gantry::IgnoreSigpipe();
  CLI::App app{"Gantry control plane: API server, state store and controllers"};
  gantry::ControlPlane::Options options;
  Flags flags;
  AddFlags(app, options, flags);
  gantry::StoreTarget target;
  std::string from;
  auto* restore = app.add_subcommand(
      "restore", "write a snapshot (gantryctl snapshot save) into an empty store, then exit");
  restore->add_option("--from", from, "the snapshot file")->required();
  AddTargetFlags(*restore, target);
  auto* migrate = app.add_subcommand(
      "migrate", "move a single control plane's SQLite store into an empty etcd, then exit");
  migrate->add_option("--from-data-dir", from, "the SQLite control plane's data dir")->required();
  AddTargetFlags(*migrate, target);
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  if (restore->parsed() || migrate->parsed()) {
    if (restore->parsed() && target.data_dir.empty() && target.store.empty()) {
      std::cerr << "gantry-controlplane restore: give --data-dir (SQLite) or --store etcd://...\n";
      return 2;
    }
    absl::Status st = restore->parsed() ? gantry::RestoreStore(from, target, std::cout)
                                        : gantry::MigrateStore(from, target, std::cout);
    if (!st.ok()) {
      std::cerr << "gantry-controlplane " << (restore->parsed() ? "restore" : "migrate") << ": "
                << st.message() << "\n";
      return 1;
    }
    return 0;
  }
  if (options.data_dir.empty()) {
    std::cerr << "gantry-controlplane: --data-dir is required\n";
    return 2;
  }
  if (auto st = gantry::SetupLogging("controlplane", flags.log_level); !st.ok()) {
    std::cerr << "gantry-controlplane: " << st.message() << "\n";
    return 2;
  }
  ToOptions(flags, options);
  // A replica whose leadership lapsed (its lease was not renewed in time:
  // etcd unreachable, the process paused) must stop acting at once; it
  // starts over as a follower in the same process slot (same PID, same
  // flags) rather than relying on a supervisor to do it.
  options.on_lost_leadership = [argv] {
    spdlog::critical("lost the leadership; restarting as a follower");
    spdlog::shutdown();
    ::execv("/proc/self/exe", argv);
    std::_Exit(3);
  };

  // Block termination signals here; a dedicated thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto cp = gantry::ControlPlane::Start(options, gantry::RealClock::Get());
  if (!cp.ok()) {
    spdlog::critical("{}", cp.status().message());
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: shutting down", sig);
    (*cp)->Shutdown();
  });
  (*cp)->Wait();
  waiter.join();
  return 0;
}
