#include "agent/config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/endpoints.h"
#include "common/log.h"
#include "common/net_util.h"
#include "common/node_fields.h"
#include "common/quantity.h"
#include "common/registry/registry_config.h"
#include "common/tls.h"
#include "yaml-cpp/yaml.h"

namespace gantry::agent {

namespace {

// The control plane's rules for an attribute (common/node_fields.h).
absl::Status CheckAttribute(const std::string& key, const std::string& value) {
  if (auto st = CheckAttributeKey(key); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("key ", st.message()));
  }
  if (auto st = CheckAttributeValue(value); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("value ", st.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseAttribute(const std::string& text, std::map<std::string, std::string>& out) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute ", QuoteForMessage(text), ": expected KEY=VALUE, e.g. disk=ssd"));
  }
  const std::string key = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  if (auto st = CheckAttribute(key, value); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute ", QuoteForMessage(text), ": ", st.message()));
  }
  out[key] = value;
  return absl::OkStatus();
}

absl::Status ParsePortRange(const std::string& text, uint32_t& start, uint32_t& end) {
  std::vector<std::string> parts = absl::StrSplit(text, '-');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &start) ||
      !absl::SimpleAtoi(parts[1], &end) || start == 0 || end > 65535 || start > end) {
    return absl::InvalidArgumentError(
        absl::StrCat("port range \"", text, "\": expected FIRST-LAST within 1-65535"));
  }
  return absl::OkStatus();
}

namespace {

// --- The typed kinds: how a text becomes a field's value.

template <typename T>
using Parser = absl::StatusOr<T> (*)(const std::string& text);

template <typename T>
SettingValue Typed(std::string type, T AgentConfig::*field, Parser<T> parse) {
  SettingValue v;
  v.type = std::move(type);
  v.apply = [field, parse](const std::string& text, AgentConfig& c) -> absl::Status {
    auto parsed = parse(text);
    if (!parsed.ok()) return parsed.status();
    c.*field = *std::move(parsed);
    return absl::OkStatus();
  };
  return v;
}

absl::StatusOr<std::string> AsText(const std::string& text) { return text; }

absl::StatusOr<absl::Duration> AsDuration(const std::string& text) {
  return ParseDurationText(text);
}

absl::StatusOr<std::optional<int64_t>> AsCpuOrAll(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto v = ParseCpu(text);
  if (!v.ok()) return v.status();
  return *v;
}

absl::StatusOr<std::optional<int64_t>> AsMemoryOrRest(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto v = ParseMemory(text);
  if (!v.ok()) return v.status();
  return *v;
}

absl::StatusOr<int64_t> AsMemory(const std::string& text) { return ParseMemory(text); }

absl::StatusOr<int> AsPercent(const std::string& text) {
  int v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < 0 || v > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a percentage from 0 to 100, got \"", text, "\""));
  }
  return v;
}

absl::StatusOr<int> AsCount(const std::string& text) {
  int v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < 0) {
    return absl::InvalidArgumentError("expected a number >= 0");
  }
  return v;
}

absl::StatusOr<PortRange> AsPortRange(const std::string& text) {
  PortRange r;
  if (auto st = ParsePortRange(text, r.first, r.last); !st.ok()) return st;
  return r;
}

// A value checked by one of common/node_fields.h's rules, quoted in the
// error: the control plane would refuse the registration otherwise.
template <absl::Status (*kCheck)(absl::string_view)>
absl::StatusOr<std::string> AsChecked(const std::string& text) {
  if (auto st = kCheck(text); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(QuoteForMessage(text), " ", st.message()));
  }
  return text;
}

// Empty until ResolveAgentConfig() puts the host name there.
absl::StatusOr<std::string> AsNodeName(const std::string& text) {
  if (text.empty()) return text;
  return AsChecked<CheckNodeName>(text);
}

absl::StatusOr<std::string> AsListenAddress(const std::string& text) {
  if (text.empty() || text == "off") return text;
  auto hp = ParseHostPort(text);
  if (!hp.ok() || hp->port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(text, ": expected HOST:PORT with a fixed port, or off"));
  }
  return text;
}

absl::StatusOr<std::string> AsLogLevel(const std::string& text) {
  if (spdlog::level::from_str(text) == spdlog::level::off && text != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat(text, ": expected trace, debug, info, warn or error"));
  }
  return text;
}

// The name of an agent's task network: its nftables table, its CNI
// network and, with "0", its bridge (an interface name: at most 15).
absl::StatusOr<std::string> AsNetworkName(const std::string& text) {
  const bool ok = !text.empty() && text.size() <= 14 && absl::ascii_isalpha(text[0]) &&
                  std::all_of(text.begin(), text.end(),
                              [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        QuoteForMessage(text), ": expected a letter, then letters, digits and '_' (at most 14)"));
  }
  return text;
}

SettingValue Text(std::string AgentConfig::*field, std::string type = "TEXT") {
  return Typed<std::string>(std::move(type), field, AsText);
}
SettingValue NodeName(std::string AgentConfig::*field) {
  return Typed<std::string>("NAME", field, AsNodeName);
}
SettingValue Zone(std::string AgentConfig::*field) {
  return Typed<std::string>("NAME", field, AsChecked<CheckZone>);
}
SettingValue Address(std::string AgentConfig::*field) {
  SettingValue v = Typed<std::string>("IP", field, AsChecked<CheckIpLiteral>);
  v.empty_is_default = true;
  return v;
}
SettingValue Duration(absl::Duration AgentConfig::*field) {
  return Typed<absl::Duration>("DURATION", field, AsDuration);
}
SettingValue Cpu(std::optional<int64_t> AgentConfig::*field) {
  return Typed<std::optional<int64_t>>("CPU", field, AsCpuOrAll);
}
SettingValue MemoryOrRest(std::optional<int64_t> AgentConfig::*field) {
  return Typed<std::optional<int64_t>>("MEMORY", field, AsMemoryOrRest);
}
SettingValue Memory(int64_t AgentConfig::*field) {
  return Typed<int64_t>("MEMORY", field, AsMemory);
}
SettingValue Percent(int AgentConfig::*field) { return Typed<int>("PERCENT", field, AsPercent); }
SettingValue Count(int AgentConfig::*field) { return Typed<int>("COUNT", field, AsCount); }
SettingValue Ports(PortRange AgentConfig::*field) {
  return Typed<PortRange>("FIRST-LAST", field, AsPortRange);
}
SettingValue ListenAddress(std::string AgentConfig::*field) {
  return Typed<std::string>("HOST:PORT|off", field, AsListenAddress);
}
SettingValue LogLevel(std::string AgentConfig::*field) {
  return Typed<std::string>("LEVEL", field, AsLogLevel);
}

absl::Status AttributesFromFile(const YAML::Node& value, const std::string& path, AgentConfig& c) {
  if (!value.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": attributes: expected a mapping of KEY: VALUE"));
  }
  for (const auto& a : value) {
    if (!a.second.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", a.second.Mark().line + 1,
                                                     ": attributes.", a.first.as<std::string>(),
                                                     ": expected a single value"));
    }
    const std::string key = a.first.as<std::string>();
    const std::string text = a.second.as<std::string>();
    if (auto st = CheckAttribute(key, text); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", a.first.Mark().line + 1,
                                                     ": attributes[", QuoteForMessage(key),
                                                     "]: ", st.message()));
    }
    c.attributes[key] = text;
  }
  return absl::OkStatus();
}

SettingValue Attributes() {
  SettingValue v;
  v.type = "KEY=VALUE";
  v.repeatable = true;
  v.apply = [](const std::string& text, AgentConfig& c) {
    return ParseAttribute(text, c.attributes);
  };
  v.apply_node = AttributesFromFile;
  return v;
}

SettingValue InsecureRegistry() {
  SettingValue v;
  v.type = "HOST[:PORT]";
  v.repeatable = true;
  v.apply = [](const std::string& host, AgentConfig& c) {
    c.registries.hosts[host].insecure = true;
    return absl::OkStatus();
  };
  return v;
}

SettingValue Registries() {
  SettingValue v;
  v.type = "MAP";
  v.apply_node = [](const YAML::Node& value, const std::string& path, AgentConfig& c) {
    return registry::ParseRegistries(value, path, c.registries);
  };
  return v;
}

using C = AgentConfig;

// Where the node is and what it is called.
std::vector<Setting> NodeSettings() {
  return {
      {"--controlplane", "controlplane", Text(&C::controlplane, "HOST:PORT[,HOST:PORT...]"),
       "127.0.0.1:7070",
       "control plane address HOST:PORT; with several replicas, any or all of them, "
       "comma-separated (the agent finds the leader)"},
      {"--node-name", "nodeName", NodeName(&C::node_name), "",
       "this node's name (default: host name)"},
      {"--zone", "zone", Zone(&C::zone), "default", "availability zone"},
      {"--attribute", "attributes", Attributes(), "", "node attribute KEY=VALUE (repeatable)"},
      {"--address", "address", Address(&C::address), "127.0.0.1",
       "IP where this node's tasks are reachable"},
  };
}

// What containers run on and what they may use.
std::vector<Setting> RuntimeSettings() {
  return {
      {"--containerd-socket", "containerdSocket", Text(&C::containerd_socket, "PATH"),
       "/run/containerd/containerd.sock", "containerd's gRPC socket"},
      {"--containerd-namespace", "containerdNamespace", Text(&C::containerd_namespace, "NAME"),
       "gantry", "containerd namespace for Gantry's containers"},
      {"--netns", "netns", Text(&C::netns, "PATH"), "",
       "the node's network namespace: where host-networked containers run and task "
       "networking's bridge, routes and NAT live (default: the host's)"},
      {"--cni-plugin-dir", "cniPluginDir", Text(&C::cni_plugin_dir, "DIRS"),
       "/usr/lib/cni:/opt/cni/bin",
       "where the CNI plugins (bridge, host-local, portmap, loopback) are, colon-separated"},
      {"--task-network", "taskNetwork", Typed<std::string>("NAME", &C::task_network, AsNetworkName),
       "gantry",
       "this agent's task network in the node's namespace: bridge NAME0, nftables table ip "
       "NAME; agents sharing one namespace need one each"},
      {"--data-dir", "dataDir", Text(&C::data_dir, "PATH"), "/var/lib/gantry/agent",
       "task records and container logs"},
      {"--secrets-dir", "secretsDir", Text(&C::secrets_dir, "PATH"), "",
       "where tasks' secret files live, on a tmpfs the agent mounts when it is not one "
       "(default /run/gantry/NODE/secrets)"},
      {"--cgroup-parent", "cgroupParent", Text(&C::cgroup_parent, "PATH"), "/gantry",
       "cgroup path for containers"},
      {"--cpu", "cpu", Cpu(&C::cpu), "", "schedulable CPU, e.g. 2 or 1500m (default: all cores)"},
      {"--memory", "memory", MemoryOrRest(&C::memory), "",
       "schedulable memory, e.g. 4Gi (default: physical minus reserve)"},
      {"--memory-reserve", "memoryReserve", Memory(&C::memory_reserve), "256Mi",
       "memory kept back for the host when --memory is not given"},
      {"--port-range", "portRange", Ports(&C::port_range), "20000-32767",
       "dynamic host ports FIRST-LAST"},
  };
}

// Talking to the control plane, logging and metrics.
std::vector<Setting> ConnectionSettings() {
  return {
      {"--join-token", "joinToken", Text(&C::join_token, "TOKEN"), "",
       "one-time token to join the cluster with (gantryctl node join-token create); needed "
       "only until the node has its certificate"},
      {"--join-token-file", "joinTokenFile", Text(&C::join_token_file, "PATH"), "",
       "file holding the join token (keeps it out of the process list)"},
      {"--ca-hash", "caHash", Text(&C::ca_hash, "sha256:HEX"), "",
       "pin of the cluster CA, printed with the join token"},
      {"--tls-ca", "tlsCa", Text(&C::tls_ca, "PATH"), "",
       "the cluster CA (instead of --ca-hash), or your own PKI's CA"},
      {"--tls-cert", "tlsCert", Text(&C::tls_cert, "PATH"), "",
       "your own PKI: the node certificate (O=gantry:node, CN=node name) instead of joining"},
      {"--tls-key", "tlsKey", Text(&C::tls_key, "PATH"), "", "your own PKI: its private key"},
      {"--tls-server-name", "tlsServerName", Text(&C::tls_server_name, "NAME"), "",
       "name to verify in the control plane's certificate"},
      {"--log-level", "logLevel", LogLevel(&C::log_level), "info", "trace|debug|info|warn|error"},
      {"--metrics-listen", "metricsListen", ListenAddress(&C::metrics_listen), "",
       "where /metrics is served: HOST:PORT or off (default: the node address, port 7072)"},
  };
}

// Registries and images.
std::vector<Setting> ImageSettings() {
  return {
      {"--insecure-registry", "", InsecureRegistry(), "",
       "registry HOST[:PORT] spoken to over plain HTTP (repeatable)"},
      {"", "registries", Registries(), "",
       "registry credentials and plain-HTTP registries (file only)"},
      {"--image-pull-timeout", "imagePullTimeout", Duration(&C::image_pull_timeout), "5m",
       "give up retrying a pull after this long"},
      {"--image-gc-unused-after", "imageGcUnusedAfter", Duration(&C::image_gc_unused_after), "1h",
       "remove images no task has used for this long"},
      {"--image-gc-keep", "imageGcKeep", Count(&C::image_gc_keep), "5",
       "always keep this many most recently used images"},
      {"--image-gc-interval", "imageGcInterval", Duration(&C::image_gc_interval), "1m",
       "how often unused images are looked for"},
  };
}

// Node status checks.
std::vector<Setting> CheckSettings() {
  return {
      {"--container-storage", "containerStorage", Text(&C::container_storage, "PATH"), "",
       "where containers' filesystems are kept, watched by the storage check (default: "
       "the root containerd reports for its snapshotter)"},
      {"--min-memory-available-percent", "minMemoryAvailablePercent",
       Percent(&C::min_memory_available_percent), "5",
       "instance check fails below this share of available memory"},
      {"--max-pid-usage-percent", "maxPidUsagePercent", Percent(&C::max_pid_usage_percent), "90",
       "instance check fails above this share of process ids in use"},
      {"--min-disk-free-percent", "minDiskFreePercent", Percent(&C::min_disk_free_percent), "10",
       "storage check fails below this share of free space"},
      {"--min-inodes-free-percent", "minInodesFreePercent", Percent(&C::min_inodes_free_percent),
       "5", "storage check fails below this share of free inodes"},
  };
}

std::vector<Setting> MakeSettings() {
  std::vector<Setting> all;
  for (auto section :
       {NodeSettings, RuntimeSettings, ConnectionSettings, ImageSettings, CheckSettings}) {
    for (auto& s : section()) all.push_back(std::move(s));
  }
  return all;
}

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// A node name is a DNS label: the host name's first label, lower case.
std::string NodeNameFromHost(const std::string& host) {
  std::string name = absl::AsciiStrToLower(host.substr(0, host.find('.')));
  return name.substr(0, 63);
}

// One key of the file.
absl::Status ApplyFileKey(const std::string& path, const YAML::Node& key, const YAML::Node& value,
                          AgentConfig& c) {
  const std::string name = key.as<std::string>();
  const Setting* setting = nullptr;
  for (const Setting& s : AgentSettings()) {
    if (!s.key.empty() && s.key == name) setting = &s;
  }
  if (setting == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": line ", key.Mark().line + 1, ": unknown setting \"", name, "\""));
  }
  if (setting->value.apply_node) return setting->value.apply_node(value, path, c);
  if (!value.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", name, ": expected a single value"));
  }
  if (auto st = ApplySetting(*setting, value.as<std::string>(), c); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": line ", value.Mark().line + 1, ": ", name, ": ", st.message()));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<Setting>& AgentSettings() {
  static const std::vector<Setting>* const settings = new std::vector<Setting>(MakeSettings());
  return *settings;
}

absl::Status ApplySetting(const Setting& s, const std::string& text, AgentConfig& c) {
  if (!s.value.apply) {
    return absl::InvalidArgumentError("expected a mapping, not a single value");
  }
  return s.value.apply(text.empty() && s.value.empty_is_default ? s.default_text : text, c);
}

AgentConfig::AgentConfig() {
  for (const Setting& s : AgentSettings()) {
    if (s.default_text.empty()) continue;
    if (auto st = ApplySetting(s, s.default_text, *this); !st.ok()) {
      // A table that contradicts itself; its unit test keeps this from shipping.
      std::fprintf(stderr, "gantry-agent: default of %s: %s\n", s.key.c_str(),
                   std::string(st.message()).c_str());
      std::abort();
    }
  }
}

absl::Status LoadAgentConfigFile(const std::string& path, AgentConfig& c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read the config file"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a mapping of settings"));
  }
  for (const auto& kv : root) {
    if (auto st = ApplyFileKey(path, kv.first, kv.second, c); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<AgentConfig> ResolveAgentConfig(const std::string& config_path,
                                               const std::vector<GivenFlag>& flags) {
  AgentConfig config;
  if (!config_path.empty()) {
    if (auto st = LoadAgentConfigFile(config_path, config); !st.ok()) return st;
  }
  for (const GivenFlag& f : flags) {
    for (const std::string& text : f.values) {
      if (auto st = ApplySetting(*f.setting, text, config); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(f.setting->flag, ": ", st.message()));
      }
    }
  }
  if (config.node_name.empty()) {
    const std::string host = HostName();
    config.node_name = NodeNameFromHost(host);
    if (auto st = CheckNodeName(config.node_name); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--node-name not given, and the host name ", QuoteForMessage(host), " gives ",
          QuoteForMessage(config.node_name), ", which ", st.message(), "; pass --node-name"));
    }
  }
  if (auto st = CheckAttributeCount(config.attributes.size()); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attributes (the file's and --attribute together) ", st.message()));
  }
  if (auto eps = Endpoints::Parse(config.controlplane, "--controlplane"); !eps.ok()) {
    return eps.status();
  }
  if (!config.join_token_file.empty()) {
    if (!config.join_token.empty()) {
      return absl::InvalidArgumentError("give --join-token or --join-token-file, not both");
    }
    auto token = ReadTokenFile(config.join_token_file, "--join-token-file");
    if (!token.ok()) return token.status();
    config.join_token = *std::move(token);
  }
  return config;
}

}  // namespace gantry::agent
