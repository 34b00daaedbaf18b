#pragma once

// The agent's settings, each declared once in AgentSettings(): its flag,
// its key in the YAML config file (the flag's name in lowerCamelCase:
// nodeName, containerdSocket, ...), its type, default and help. A value is
// parsed into its type where the setting is declared, from whichever layer
// gives it: defaults, then the file (--config), then the flags given, each
// overriding the one before. Errors name the flag, or the file, line and
// key, and say what is wrong; an unknown key in the file is an error.
//
// The node's name, zone, address and attributes are held to the rules the
// control plane checks a registration with (common/node_fields.h), so a
// bad one fails at start-up naming the flag or key, not at registration.
//
// Two settings are maps: `attributes` (also --attribute KEY=VALUE,
// repeatable) and `registries` (file only, since it may hold credentials
// that must not show in `ps`; --insecure-registry HOST, repeatable, marks
// one as plain HTTP).
//
// Everything here is pure and thread-compatible; the table is immutable.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/registry/registry_client.h"

namespace YAML {
class Node;
}

namespace gantry::agent {

struct PortRange {
  uint32_t first = 0;
  uint32_t last = 0;
};

struct AgentConfig {
  // Every setting at the default its row in AgentSettings() declares.
  AgentConfig();

  std::string controlplane;
  std::string node_name;  // empty until ResolveAgentConfig(): the host name
  std::string zone;
  std::map<std::string, std::string> attributes;
  std::string address;
  std::string containerd_socket;
  std::string containerd_namespace;
  std::string netns;
  // Where the CNI plugins are, colon-separated.
  std::string cni_plugin_dir;
  // Its task network's name: bridge NAME0 and nftables table NAME.
  std::string task_network;
  std::string data_dir;
  // Where secret files go (a tmpfs); empty: /run/gantry/NODE/secrets.
  std::string secrets_dir;
  std::string cgroup_parent;
  std::optional<int64_t> cpu;     // millicores; none: all cores
  std::optional<int64_t> memory;  // bytes; none: physical memory minus the reserve
  int64_t memory_reserve = 0;     // bytes
  PortRange port_range;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  // Joining: a one-time token (or the file holding it, kept out of `ps`)
  // and the pin of the cluster CA.
  std::string join_token;
  std::string join_token_file;
  std::string ca_hash;
  std::string log_level;
  absl::Duration image_pull_timeout;
  absl::Duration image_gc_unused_after;
  int image_gc_keep = 0;
  absl::Duration image_gc_interval;
  // Node status checks: containerd's root for the storage check, and the
  // thresholds (percent) below or above which a check fails.
  std::string container_storage;
  int min_memory_available_percent = 0;
  int max_pid_usage_percent = 0;
  int min_disk_free_percent = 0;
  int min_inodes_free_percent = 0;
  // Where /metrics is served: HOST:PORT, "off", or empty for the node's
  // address on port 7072.
  std::string metrics_listen;
  registry::RegistryConfig registries;
};

// How a setting's values are read; made by the typed kinds in config.cc.
struct SettingValue {
  std::string type;  // what --help shows: DURATION, MEMORY, PERCENT, ...
  // Applies one value (a flag's, a scalar in the file, the default). The
  // error says what is wrong with the value, not where it came from.
  std::function<absl::Status(const std::string& text, AgentConfig& config)> apply;
  // For a key whose value in the file is a mapping: applies it; errors
  // name `path` themselves. Empty: the key takes a single value.
  std::function<absl::Status(const YAML::Node& node, const std::string& path, AgentConfig& config)>
      apply_node;
  bool repeatable = false;        // the flag may be given again; each value adds
  bool empty_is_default = false;  // an empty value means the default
};

struct Setting {
  std::string flag;  // "--node-name"; empty: only in the file
  std::string key;   // "nodeName"; empty: only a flag
  SettingValue value;
  std::string default_text;  // applied by AgentConfig(); empty: none
  std::string help;
};

// Every setting, in the order --help lists them.
const std::vector<Setting>& AgentSettings();

// Applies `text` to `config` as `setting`'s value.
absl::Status ApplySetting(const Setting& setting, const std::string& text, AgentConfig& config);

// Applies the keys present in `path` to `config`.
absl::Status LoadAgentConfigFile(const std::string& path, AgentConfig& config);

// Values given on the command line for one setting.
struct GivenFlag {
  const Setting* setting = nullptr;
  std::vector<std::string> values;
};

// Defaults, then the file at `config_path` (none when empty), then `flags`
// in order; an empty node name becomes the host name (an error if that
// makes no valid node name). At most kMaxNodeAttributes attributes.
absl::StatusOr<AgentConfig> ResolveAgentConfig(const std::string& config_path,
                                               const std::vector<GivenFlag>& flags);

// Parses "KEY=VALUE"; the key and value must pass CheckAttributeKey and
// CheckAttributeValue.
absl::Status ParseAttribute(const std::string& text, std::map<std::string, std::string>& out);

// Parses "20000-32767".
absl::Status ParsePortRange(const std::string& text, uint32_t& start, uint32_t& end);

}  // namespace gantry::agent
