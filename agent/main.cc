// gantry-agent: flag and config parsing and wiring only; see agent.h.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/runtime/containerd_runtime.h"
#include "common/http/server.h"
#include "common/log.h"
#include "common/logging.h"
#include "common/metrics/exposition.h"
#include "common/net_util.h"
#include "common/quantity.h"
#include "common/signals.h"

namespace {

constexpr char kVersion[] = "0.1.0";

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "gantry-agent: " << message << "\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  gantry::IgnoreSigpipe();
  using gantry::agent::AgentConfig;
  CLI::App app{"Gantry node agent: runs the control plane's tasks on containerd"};
  std::string config_path;
  AgentConfig flags;
  std::vector<std::string> attributes;
  app.add_option("--config", config_path, "YAML config file; flags override it");
  app.add_option("--controlplane", flags.controlplane, "control plane address HOST:PORT");
  app.add_option("--node-name", flags.node_name, "this node's name (default: host name)");
  app.add_option("--zone", flags.zone, "availability zone (default: default)");
  app.add_option("--attribute", attributes, "node attribute KEY=VALUE (repeatable)");
  app.add_option("--address", flags.address, "IP where this node's tasks are reachable");
  app.add_option("--containerd-socket", flags.containerd_socket, "containerd's gRPC socket");
  app.add_option("--containerd-namespace", flags.containerd_namespace,
                 "containerd namespace for Gantry's containers");
  app.add_option("--netns", flags.netns,
                 "network namespace path containers join (default: the host's)");
  app.add_option("--data-dir", flags.data_dir, "task records and container logs");
  app.add_option("--cgroup-parent", flags.cgroup_parent, "cgroup path for containers");
  app.add_option("--cpu", flags.cpu, "schedulable CPU, e.g. 2 or 1500m (default: all cores)");
  app.add_option("--memory", flags.memory,
                 "schedulable memory, e.g. 4Gi (default: physical minus reserve)");
  app.add_option("--memory-reserve", flags.memory_reserve,
                 "memory kept back for the host when --memory is not given");
  app.add_option("--port-range", flags.port_range, "dynamic host ports FIRST-LAST");
  app.add_option("--tls-ca", flags.tls_ca, "CA of the control plane's certificate");
  app.add_option("--tls-cert", flags.tls_cert, "client certificate (PEM)");
  app.add_option("--tls-key", flags.tls_key, "client private key (PEM)");
  app.add_option("--tls-server-name", flags.tls_server_name,
                 "name to verify in the control plane's certificate");
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error");
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "where /metrics is served: HOST:PORT or off (default: the node address, port "
                 "7072)");
  std::vector<std::string> insecure_registries;
  app.add_option("--insecure-registry", insecure_registries,
                 "registry HOST[:PORT] spoken to over plain HTTP (repeatable)");
  app.add_option("--image-pull-timeout", flags.image_pull_timeout,
                 "give up retrying a pull after this long (default 5m)");
  app.add_option("--image-gc-unused-after", flags.image_gc_unused_after,
                 "remove images no task has used for this long (default 1h)");
  app.add_option("--image-gc-keep", flags.image_gc_keep,
                 "always keep this many most recently used images (default 5)");
  app.add_option("--container-storage", flags.container_storage,
                 "containerd's root, watched by the storage check");
  app.add_option("--min-memory-available-percent", flags.min_memory_available_percent,
                 "instance check fails below this share of available memory (default 5)");
  app.add_option("--max-pid-usage-percent", flags.max_pid_usage_percent,
                 "instance check fails above this share of process ids in use (default 90)");
  app.add_option("--min-disk-free-percent", flags.min_disk_free_percent,
                 "storage check fails below this share of free space (default 10)");
  app.add_option("--min-inodes-free-percent", flags.min_inodes_free_percent,
                 "storage check fails below this share of free inodes (default 5)");
  app.add_option("--image-gc-interval", flags.image_gc_interval,
                 "how often unused images are looked for (default 1m)");
  CLI11_PARSE(app, argc, argv);

  // Defaults, then the file, then flags the user actually gave.
  AgentConfig config;
  if (!config_path.empty()) {
    if (auto st = gantry::agent::LoadAgentConfigFile(config_path, config); !st.ok()) {
      Die(std::string(st.message()));
    }
  }
  auto given = [&](const char* flag) { return app.count(flag) > 0; };
  if (given("--controlplane")) config.controlplane = flags.controlplane;
  if (given("--node-name")) config.node_name = flags.node_name;
  if (given("--zone")) config.zone = flags.zone;
  if (given("--address")) config.address = flags.address;
  if (given("--containerd-socket")) config.containerd_socket = flags.containerd_socket;
  if (given("--containerd-namespace")) config.containerd_namespace = flags.containerd_namespace;
  if (given("--netns")) config.netns = flags.netns;
  if (given("--data-dir")) config.data_dir = flags.data_dir;
  if (given("--cgroup-parent")) config.cgroup_parent = flags.cgroup_parent;
  if (given("--cpu")) config.cpu = flags.cpu;
  if (given("--memory")) config.memory = flags.memory;
  if (given("--memory-reserve")) config.memory_reserve = flags.memory_reserve;
  if (given("--port-range")) config.port_range = flags.port_range;
  if (given("--tls-ca")) config.tls_ca = flags.tls_ca;
  if (given("--tls-cert")) config.tls_cert = flags.tls_cert;
  if (given("--tls-key")) config.tls_key = flags.tls_key;
  if (given("--tls-server-name")) config.tls_server_name = flags.tls_server_name;
  if (given("--log-level")) config.log_level = flags.log_level;
  if (given("--metrics-listen")) config.metrics_listen = flags.metrics_listen;
  if (given("--image-pull-timeout")) config.image_pull_timeout = flags.image_pull_timeout;
  if (given("--image-gc-unused-after")) {
    config.image_gc_unused_after = flags.image_gc_unused_after;
  }
  if (given("--image-gc-keep")) config.image_gc_keep = flags.image_gc_keep;
  if (given("--image-gc-interval")) config.image_gc_interval = flags.image_gc_interval;
  if (given("--container-storage")) config.container_storage = flags.container_storage;
  if (given("--min-memory-available-percent")) {
    config.min_memory_available_percent = flags.min_memory_available_percent;
  }
  if (given("--max-pid-usage-percent")) config.max_pid_usage_percent = flags.max_pid_usage_percent;
  if (given("--min-disk-free-percent")) config.min_disk_free_percent = flags.min_disk_free_percent;
  if (given("--min-inodes-free-percent")) {
    config.min_inodes_free_percent = flags.min_inodes_free_percent;
  }
  for (const auto& host : insecure_registries) config.registries.hosts[host].insecure = true;
  for (const auto& a : attributes) {
    if (auto st = gantry::agent::ParseAttribute(a, config.attributes); !st.ok()) {
      Die(absl::StrCat("--attribute: ", st.message()));
    }
  }

  if (auto st = gantry::SetupLogging("agent", config.log_level); !st.ok()) {
    Die(std::string(st.message()));
  }
  if (config.node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    config.node_name = host;
  }
  if (config.address.empty()) config.address = "127.0.0.1";

  const auto machine = gantry::agent::DetectMachineCapacity();
  int64_t cpu = machine.cpu_millis;
  int64_t memory = 0;
  if (!config.cpu.empty()) {
    auto parsed = gantry::ParseCpu(config.cpu);
    if (!parsed.ok()) Die(absl::StrCat("--cpu: ", parsed.status().message()));
    cpu = *parsed;
  }
  if (!config.memory.empty()) {
    auto parsed = gantry::ParseMemory(config.memory);
    if (!parsed.ok()) Die(absl::StrCat("--memory: ", parsed.status().message()));
    memory = *parsed;
  } else {
    auto reserve = gantry::ParseMemory(config.memory_reserve);
    if (!reserve.ok()) Die(absl::StrCat("--memory-reserve: ", reserve.status().message()));
    memory = machine.memory_bytes - *reserve;
    if (memory <= 0) Die("--memory-reserve is larger than the machine's memory");
  }
  uint32_t port_start = 0;
  uint32_t port_end = 0;
  if (auto st = gantry::agent::ParsePortRange(config.port_range, port_start, port_end); !st.ok()) {
    Die(absl::StrCat("--port-range: ", st.message()));
  }

  auto duration = [](const char* flag, const std::string& text) {
    auto d = gantry::ParseDurationText(text);
    if (!d.ok()) Die(absl::StrCat(flag, ": ", d.status().message()));
    return *d;
  };
  auto percent = [](const char* flag, const std::string& text) {
    int v = 0;
    if (!absl::SimpleAtoi(text, &v) || v < 0 || v > 100) {
      Die(absl::StrCat(flag, ": expected a percentage from 0 to 100, got \"", text, "\""));
    }
    return v / 100.0;
  };
  int image_keep = 0;
  if (!absl::SimpleAtoi(config.image_gc_keep, &image_keep) || image_keep < 0) {
    Die("--image-gc-keep: expected a number >= 0");
  }

  gantry::agent::ContainerdRuntime::Options rt;
  rt.socket = config.containerd_socket;
  rt.ns = config.containerd_namespace;
  rt.node_name = config.node_name;
  rt.oci.cgroup_parent = config.cgroup_parent;
  rt.exec_output_dir = (std::filesystem::path(config.data_dir) / "exec").string();
  gantry::agent::ContainerdRuntime runtime(rt);
  if (auto st = runtime.Ping(); !st.ok()) {
    spdlog::warn("{} (the agent keeps trying)", st.message());
  }

  gantry::agent::Agent::Options options;
  options.reconciler.data_dir = config.data_dir;
  options.reconciler.node_name = config.node_name;
  options.reconciler.zone = config.zone;
  options.reconciler.node_address = config.address;
  options.reconciler.netns_path = config.netns;
  options.images.data_dir = config.data_dir;
  options.images.pull_timeout = duration("--image-pull-timeout", config.image_pull_timeout);
  options.images.unused_after = duration("--image-gc-unused-after", config.image_gc_unused_after);
  options.images.keep = image_keep;
  options.reconciler.image_gc_interval = duration("--image-gc-interval", config.image_gc_interval);
  options.container_storage = config.container_storage;
  options.thresholds.min_memory_available =
      percent("--min-memory-available-percent", config.min_memory_available_percent);
  options.thresholds.max_pid_usage =
      percent("--max-pid-usage-percent", config.max_pid_usage_percent);
  options.thresholds.min_disk_free =
      percent("--min-disk-free-percent", config.min_disk_free_percent);
  options.thresholds.min_inodes_free =
      percent("--min-inodes-free-percent", config.min_inodes_free_percent);
  options.registries = config.registries;
  options.session.controlplane = config.controlplane;
  options.session.tls = {config.tls_cert, config.tls_key, config.tls_ca, config.tls_server_name};
  auto& id = options.session.identity;
  id.set_node_name(config.node_name);
  id.set_zone(config.zone);
  for (const auto& [k, v] : config.attributes) (*id.mutable_attributes())[k] = v;
  id.set_address(config.address);
  id.mutable_capacity()->set_cpu(cpu);
  id.mutable_capacity()->set_memory(memory);
  id.set_port_range_start(port_start);
  id.set_port_range_end(port_end);
  id.set_agent_version(kVersion);
  // Every thread started from here on leaves these signals to sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // /metrics is served before the agent exists (answering 503 until it
  // does), so that only an address that really serves is advertised.
  std::atomic<gantry::agent::Agent*> serving{nullptr};
  std::unique_ptr<gantry::http::HttpServer> metrics_server;
  std::string metrics_listen = config.metrics_listen;
  if (metrics_listen.empty()) metrics_listen = absl::StrCat(config.address, ":7072");
  if (metrics_listen != "off") {
    auto hp = gantry::ParseHostPort(metrics_listen);
    if (!hp.ok() || hp->port == 0) {
      Die(absl::StrCat("--metrics-listen ", metrics_listen,
                       ": expected HOST:PORT with a fixed port, or off"));
    }
    auto server = gantry::http::HttpServer::Start(metrics_listen, [&serving](
                                                                      const std::string& path) {
      if (path != "/metrics") return gantry::http::Response{404, "text/plain", "try /metrics\n"};
      auto* agent = serving.load();
      if (agent == nullptr) return gantry::http::Response{503, "text/plain", "starting\n"};
      return gantry::http::Response{200, gantry::metrics::kContentType, agent->metrics()->Render()};
    });
    if (server.ok()) {
      metrics_server = std::move(*server);
      // Prometheus is told where to scrape; a wildcard address is no address.
      id.set_metrics_address(hp->host == "0.0.0.0" ? absl::StrCat(config.address, ":", hp->port)
                                                   : metrics_listen);
    } else if (config.metrics_listen.empty()) {
      // The default address may not be this host's (a node whose address
      // lives in a network namespace): run without metrics, say so.
      spdlog::warn("metrics: {}; set --metrics-listen HOST:PORT to serve /metrics",
                   server.status().message());
    } else {
      Die(absl::StrCat("--metrics-listen: ", server.status().message()));
    }
  }

  gantry::agent::Agent agent(&runtime, gantry::RealClock::Get(), options);
  serving = &agent;
  if (auto st = agent.Start(); !st.ok()) {
    spdlog::critical("cannot start: {}", st.message());
    return 1;
  }
  spdlog::info("agent {} (zone {}, {} cpu, {} memory) talking to {}", config.node_name, config.zone,
               gantry::FormatCpu(cpu), gantry::FormatMemory(memory), config.controlplane);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping the agent; containers keep running", sig);
  metrics_server.reset();  // before the agent it reads goes
  agent.Stop();
  return 0;
}
