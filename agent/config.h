#pragma once

// The agent's settings, from its YAML config file (--config) overlaid by
// command-line flags. Keys in the file are the flag names without dashes in
// lowerCamelCase (nodeName, containerdSocket, ...); an unknown key is an
// error naming the file and the key.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "common/registry/registry_client.h"

namespace gantry::agent {

struct AgentConfig {
  std::string controlplane = "127.0.0.1:7070";
  std::string node_name;  // default: the host name
  std::string zone = "default";
  std::map<std::string, std::string> attributes;
  std::string address;  // default: 127.0.0.1
  std::string containerd_socket = "/run/containerd/containerd.sock";
  std::string containerd_namespace = "gantry";
  std::string netns;
  std::string data_dir = "/var/lib/gantry/agent";
  std::string cgroup_parent = "/gantry";
  std::string cpu;     // e.g. "2" or "1500m"; default: all cores
  std::string memory;  // e.g. "4Gi"; default: physical memory minus the reserve
  std::string memory_reserve = "256Mi";
  std::string port_range = "20000-32767";
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  std::string log_level = "info";
  std::string image_pull_timeout = "5m";
  std::string image_gc_unused_after = "1h";
  std::string image_gc_keep = "5";
  std::string image_gc_interval = "1m";
  // Node status checks: containerd's root for the storage check, and the
  // thresholds (percent) below or above which a check fails.
  std::string container_storage = "/var/lib/containerd";
  std::string min_memory_available_percent = "5";
  std::string max_pid_usage_percent = "90";
  std::string min_disk_free_percent = "10";
  std::string min_inodes_free_percent = "5";
  // Where /metrics is served: HOST:PORT, "off", or empty for the node's
  // address on port 7072.
  std::string metrics_listen;
  // Credentials and plain-HTTP registries; only from the file (or
  // --insecure-registry), never from flags that would show in `ps`.
  registry::RegistryConfig registries;
};

// Applies the keys present in `path` to `config`.
absl::Status LoadAgentConfigFile(const std::string& path, AgentConfig& config);

// Parses "KEY=VALUE".
absl::Status ParseAttribute(const std::string& text, std::map<std::string, std::string>& out);

// Parses "20000-32767".
absl::Status ParsePortRange(const std::string& text, uint32_t& start, uint32_t& end);

// Cores x 1000 and physical memory from /proc/meminfo.
struct MachineCapacity {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
};
MachineCapacity DetectMachineCapacity();

}  // namespace gantry::agent
