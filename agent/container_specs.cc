#include "agent/container_specs.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/spec/sandbox.h"

namespace gantry::agent {

using gantry::v1::TaskAssignment;

namespace {

std::string EnvName(const std::string& port_name) {
  std::string out = absl::AsciiStrToUpper(port_name);
  for (char& c : out) {
    if (!absl::ascii_isalnum(c)) c = '_';
  }
  return out;
}

}  // namespace

std::vector<std::string> GantryEnvironment(const TaskAssignment& a, const TaskHost& host) {
  std::vector<std::string> env;
  env.push_back(absl::StrCat("GANTRY_TASK_ID=", a.task_id()));
  env.push_back(absl::StrCat("GANTRY_SERVICE=", a.service()));
  env.push_back(absl::StrCat("GANTRY_TASK_DEFINITION=", a.task_definition()));
  env.push_back(absl::StrCat("GANTRY_NODE=", host.node_name));
  env.push_back(absl::StrCat("GANTRY_ZONE=", host.zone));
  env.push_back(absl::StrCat("GANTRY_HOST_ADDRESS=", host.address));
  if (!host.task_address.empty()) {
    env.push_back(absl::StrCat("GANTRY_TASK_ADDRESS=", host.task_address));
  }
  for (const auto& p : a.ports()) {
    const std::string name = EnvName(p.name());
    env.push_back(absl::StrCat("GANTRY_PORT_", name, "=", p.host_port()));
    env.push_back(absl::StrCat("GANTRY_ADDR_", name, "=", host.address, ":", p.host_port()));
  }
  return env;
}

ContainerSpec BuildContainerSpec(const TaskAssignment& a, int index, const TrackedContainer& c,
                                 const TaskHost& host, const std::string& log_path,
                                 const ContainerSecrets* secrets) {
  const auto& def = a.containers(index);
  ContainerSpec spec;
  spec.id = c.id;
  spec.image = c.image;
  spec.command.assign(def.command().begin(), def.command().end());
  for (const auto& [k, v] : def.environment()) spec.env.push_back(absl::StrCat(k, "=", v));
  if (secrets != nullptr) {
    spec.env.insert(spec.env.end(), secrets->env.begin(), secrets->env.end());
    spec.mounts = secrets->mounts;
  }
  for (auto& e : GantryEnvironment(a, host)) spec.env.push_back(std::move(e));
  spec.cpu_millis = def.cpu();
  spec.memory_bytes = def.memory();
  spec.netns_path = host.netns_path;
  spec.log_path = log_path;
  spec.hostname = a.task_id().substr(0, 12);
  spec.user = def.user();
  // Definitions stored before pids limits existed say 0: they get the default.
  spec.pids_limit = def.pids_limit() > 0 ? def.pids_limit() : spec::kDefaultPidsLimit;
  spec.readonly_root = def.readonly_root_filesystem();
  for (const auto& u : def.ulimits()) {
    if (auto type = spec::RlimitType(u.name())) {
      spec.rlimits.push_back(
          {*type, static_cast<uint64_t>(u.soft_limit()), static_cast<uint64_t>(u.hard_limit())});
    }
  }
  spec.capabilities = spec::EffectiveCapabilities(def);
  spec.labels = {{kLabelTaskId, a.task_id()},
                 {kLabelNode, host.node_name},
                 {kLabelContainer, def.name()},
                 {kLabelService, a.service()},
                 {kLabelTaskDefinition, a.task_definition()},
                 {kLabelEssential, c.essential ? "true" : "false"},
                 {kLabelImage, c.image},
                 {kLabelStopTimeout, absl::StrCat(absl::ToInt64Milliseconds(c.stop_timeout))}};
  return spec;
}

TrackedContainer ContainerFromLabels(const std::string& id, const std::string& name,
                                     const std::map<std::string, std::string>& labels) {
  TrackedContainer c;
  c.name = name;
  c.id = id;
  if (auto i = labels.find(kLabelImage); i != labels.end()) c.image = i->second;
  if (auto e = labels.find(kLabelEssential); e != labels.end()) c.essential = e->second != "false";
  if (auto t = labels.find(kLabelStopTimeout); t != labels.end()) {
    int64_t ms = 0;
    if (absl::SimpleAtoi(t->second, &ms)) c.stop_timeout = absl::Milliseconds(ms);
  }
  return c;
}

}  // namespace gantry::agent
