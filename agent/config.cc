#include "agent/config.h"

#include <unistd.h>

#include <fstream>
#include <functional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/registry/registry_config.h"
#include "yaml-cpp/yaml.h"

namespace gantry::agent {

absl::Status ParseAttribute(const std::string& text, std::map<std::string, std::string>& out) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute \"", text, "\": expected KEY=VALUE, e.g. disk=ssd"));
  }
  out[text.substr(0, eq)] = text.substr(eq + 1);
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
  const std::map<std::string, std::string*> strings = {
      {"controlplane", &c.controlplane},
      {"nodeName", &c.node_name},
      {"zone", &c.zone},
      {"address", &c.address},
      {"containerdSocket", &c.containerd_socket},
      {"containerdNamespace", &c.containerd_namespace},
      {"netns", &c.netns},
      {"dataDir", &c.data_dir},
      {"cgroupParent", &c.cgroup_parent},
      {"cpu", &c.cpu},
      {"memory", &c.memory},
      {"memoryReserve", &c.memory_reserve},
      {"portRange", &c.port_range},
      {"tlsCa", &c.tls_ca},
      {"tlsCert", &c.tls_cert},
      {"tlsKey", &c.tls_key},
      {"tlsServerName", &c.tls_server_name},
      {"logLevel", &c.log_level},
      {"imagePullTimeout", &c.image_pull_timeout},
      {"imageGcUnusedAfter", &c.image_gc_unused_after},
      {"imageGcKeep", &c.image_gc_keep},
      {"imageGcInterval", &c.image_gc_interval},
      {"containerStorage", &c.container_storage},
      {"minMemoryAvailablePercent", &c.min_memory_available_percent},
      {"maxPidUsagePercent", &c.max_pid_usage_percent},
      {"minDiskFreePercent", &c.min_disk_free_percent},
      {"minInodesFreePercent", &c.min_inodes_free_percent},
      {"metricsListen", &c.metrics_listen},
  };
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    if (key == "registries") {
      if (auto st = registry::ParseRegistries(value, path, c.registries); !st.ok()) return st;
      continue;
    }
    if (key == "attributes") {
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
        c.attributes[a.first.as<std::string>()] = a.second.as<std::string>();
      }
      continue;
    }
    auto it = strings.find(key);
    if (it == strings.end()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", kv.first.Mark().line + 1,
                                                     ": unknown setting \"", key, "\""));
    }
    if (!value.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", key, ": expected a single value"));
    }
    *it->second = value.as<std::string>();
  }
  return absl::OkStatus();
}

MachineCapacity DetectMachineCapacity() {
  MachineCapacity out;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  out.cpu_millis = (cores > 0 ? cores : 1) * 1000;
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") {
      out.memory_bytes = kb * 1024;
      break;
    }
  }
  return out;
}

}  // namespace gantry::agent
