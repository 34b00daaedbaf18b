#include "controlplane/metrics/discovery.h"

#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace gantry::metrics {

using gantry::v1::Task;

namespace {

// A JSON string literal.
std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

// One target group: {"targets":["ADDR"],"labels":{...}}.
void AppendGroup(std::string& out, const std::string& target,
                 const std::vector<std::pair<const char*, const std::string*>>& labels) {
  if (out.size() > 1) out += ',';
  absl::StrAppend(&out, "{\"targets\":[", Quote(target), "],\"labels\":{");
  bool first = true;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&out, first ? "" : ",", "\"", k, "\":", Quote(*v));
    first = false;
  }
  out += "}}";
}

}  // namespace

std::string TaskTargets(const state::ClusterState& state) {
  // What is needed of each running task, copied under the state lock.
  struct Running {
    std::string id, service, task_definition, node, zone;
    std::vector<gantry::v1::PortBinding> ports;
  };
  std::vector<Running> running;
  state.ForEachTask([&](const Task& t) {
    if (t.desired_status() != Task::RUNNING || t.last_status() != Task::RUNNING) return;
    running.push_back({t.id(),
                       t.service(),
                       t.task_definition(),
                       t.node(),
                       t.zone(),
                       {t.ports().begin(), t.ports().end()}});
  });
  std::map<std::string, std::optional<gantry::v1::TaskDefinition>> defs;
  std::string out = "[";
  for (const auto& t : running) {
    auto it = defs.find(t.task_definition);
    if (it == defs.end()) {
      it = defs.emplace(t.task_definition, state.ResolveTaskDefinition(t.task_definition)).first;
    }
    if (!it->second) continue;
    for (const auto& c : it->second->containers()) {
      if (c.metrics().port().empty()) continue;
      for (const auto& p : t.ports) {
        if (p.name() != c.metrics().port() || p.host_port() == 0) continue;
        std::vector<std::pair<const char*, const std::string*>> labels = {
            {"service", &t.service}, {"task", &t.id},   {"container", &c.name()},
            {"node", &t.node},       {"zone", &t.zone}, {"task_definition", &t.task_definition}};
        if (!c.metrics().path().empty())
          labels.push_back({"__metrics_path__", &c.metrics().path()});
        AppendGroup(out, absl::StrCat(p.host_address(), ":", p.host_port()), labels);
      }
    }
  }
  return out + "]";
}

std::string AgentTargets(const state::ClusterState& state) {
  std::string out = "[";
  for (const auto& n : state.ListNodes()) {
    if (n.metrics_address().empty()) continue;
    AppendGroup(out, n.metrics_address(), {{"node", &n.name()}, {"zone", &n.zone()}});
  }
  return out + "]";
}

}  // namespace gantry::metrics
