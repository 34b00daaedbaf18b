#include "agent/agent_factory.h"

#include <filesystem>

#include "absl/strings/str_split.h"
#include "agent/metrics/metrics_endpoint.h"
#include "common/log.h"

namespace gantry::agent {

ContainerdRuntime::Options RuntimeOptionsFor(const AgentConfig& config) {
  ContainerdRuntime::Options rt;
  rt.socket = config.containerd_socket;
  rt.ns = config.containerd_namespace;
  rt.node_name = config.node_name;
  rt.oci.cgroup_parent = config.cgroup_parent;
  rt.exec_output_dir = (std::filesystem::path(config.data_dir) / "exec").string();
  return rt;
}

namespace {

double Fraction(int percent) { return percent / 100.0; }

gantry::v1::RegisterRequest IdentityFor(const AgentConfig& config, const NodeCapacity& capacity) {
  gantry::v1::RegisterRequest id;
  id.set_node_name(config.node_name);
  id.set_zone(config.zone);
  for (const auto& [k, v] : config.attributes) (*id.mutable_attributes())[k] = v;
  id.set_address(config.address);
  id.mutable_capacity()->set_cpu(capacity.cpu_millis);
  id.mutable_capacity()->set_memory(capacity.memory_bytes);
  id.set_port_range_start(config.port_range.first);
  id.set_port_range_end(config.port_range.last);
  id.set_agent_version(kAgentVersion);
  return id;
}

}  // namespace

NodeIdentity::Options IdentityOptionsFor(const AgentConfig& config) {
  NodeIdentity::Options o;
  o.data_dir = config.data_dir;
  o.node_name = config.node_name;
  o.controlplane = config.controlplane;
  o.join_token = config.join_token;
  o.ca_hash = config.ca_hash;
  o.tls = {config.tls_cert, config.tls_key, config.tls_ca, config.tls_server_name};
  return o;
}

Agent::Options AgentOptionsFor(const AgentConfig& config, const NodeCapacity& capacity) {
  Agent::Options options;
  options.reconciler.data_dir = config.data_dir;
  options.reconciler.node_name = config.node_name;
  options.reconciler.zone = config.zone;
  options.reconciler.node_address = config.address;
  options.reconciler.netns_path = config.netns;
  options.reconciler.secrets_dir =
      !config.secrets_dir.empty()
          ? config.secrets_dir
          : (std::filesystem::path("/run/gantry") / config.node_name / "secrets").string();
  options.images.data_dir = config.data_dir;
  options.images.pull_timeout = config.image_pull_timeout;
  options.images.unused_after = config.image_gc_unused_after;
  options.images.keep = config.image_gc_keep;
  options.upkeep.image_gc_interval = config.image_gc_interval;
  options.container_storage = config.container_storage;
  options.thresholds.min_memory_available = Fraction(config.min_memory_available_percent);
  options.thresholds.max_pid_usage = Fraction(config.max_pid_usage_percent);
  options.thresholds.min_disk_free = Fraction(config.min_disk_free_percent);
  options.thresholds.min_inodes_free = Fraction(config.min_inodes_free_percent);
  options.registries = config.registries;
  options.session.controlplane = config.controlplane;
  options.session.identity = IdentityFor(config, capacity);
  NodeNetwork::Options network;
  network.data_dir = config.data_dir;
  network.netns = config.netns;
  network.node_address = config.address;
  network.plugin_dirs = absl::StrSplit(config.cni_plugin_dir, ':', absl::SkipEmpty());
  network.name = config.task_network;
  options.network = std::make_shared<NodeNetwork>(network);
  return options;
}

absl::StatusOr<std::unique_ptr<Agent>> CreateAgent(const AgentConfig& config,
                                                   const MachineCapacity& machine,
                                                   const Clock* clock) {
  auto capacity = ResolveCapacity(config, machine);
  if (!capacity.ok()) return capacity.status();
  auto runtime = std::make_unique<ContainerdRuntime>(RuntimeOptionsFor(config));
  if (auto st = runtime->Ping(); !st.ok()) {
    spdlog::warn("{} (the agent keeps trying)", st.message());
  }
  Agent::Options options = AgentOptionsFor(config, *capacity);
  auto identity = NodeIdentity::Establish(IdentityOptionsFor(config), clock);
  if (!identity.ok()) return identity.status();
  options.identity = std::move(*identity);
  auto endpoint = MetricsEndpoint::Start(config.metrics_listen, config.address);
  if (!endpoint.ok()) return endpoint.status();
  if (!(*endpoint)->advertised().empty()) {
    options.session.identity.set_metrics_address((*endpoint)->advertised());
  }
  auto agent = std::make_unique<Agent>(std::move(runtime), clock, std::move(options));
  agent->ServeMetrics(std::move(*endpoint));
  return agent;
}

}  // namespace gantry::agent
