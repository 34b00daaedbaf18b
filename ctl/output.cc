#include "ctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/quantity.h"
#include "common/time_util.h"
#include "ctl/terminal_text.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace gantry::ctl {

using gantry::v1::Node;
using gantry::v1::Service;
using gantry::v1::Task;

namespace {

void EmitYaml(YAML::Emitter& out, const nlohmann::json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      EmitYaml(out, v);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) EmitYaml(out, v);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    out << j.get<std::string>();
  } else if (j.is_boolean()) {
    out << j.get<bool>();
  } else if (j.is_number_integer()) {
    out << j.get<int64_t>();
  } else if (j.is_number()) {
    out << j.get<double>();
  } else {
    out << YAML::Null;
  }
}

std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTime(ts), absl::UTCTimeZone());
}

std::string Age(const google::protobuf::Timestamp& ts, absl::Time now) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return FormatAge(FromProtoTime(ts), now);
}

std::string Short(const std::string& id) { return id.substr(0, 12); }

std::string NodeStatusName(Node::Status s) {
  return s == Node::STATUS_UNSPECIFIED ? "-" : Node::Status_Name(s);
}

}  // namespace

absl::StatusOr<Format> ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "yaml") return Format::kYaml;
  return absl::InvalidArgumentError(
      absl::StrCat("-o ", text, ": unknown output format (use table, json or yaml)"));
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string ToYaml(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  YAML::Emitter out;
  EmitYaml(out, nlohmann::json::parse(json));
  return std::string(out.c_str()) + "\n";
}

void Table::Add(std::vector<std::string> row) {
  for (auto& cell : row) cell = EscapeControls(cell);
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out, const std::string& indent) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out << line << "\n";
  }
}

std::string StatusName(Task::Status s) {
  return s == Task::STATUS_UNSPECIFIED ? "-" : Task::Status_Name(s);
}

std::string FormatPorts(const Task& task) {
  std::vector<std::string> parts;
  for (const auto& p : task.ports()) {
    parts.push_back(
        absl::StrCat(p.host_address().empty() ? "?" : p.host_address(), ":", p.host_port()));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

void PrintServices(std::ostream& out, const std::vector<Service>& services, absl::Time now) {
  Table t({"NAME", "TASK DEFINITION", "DESIRED", "RUNNING", "PENDING", "STATUS", "AGE"});
  for (const auto& s : services) {
    t.Add({s.name(), s.resolved_task_definition(), absl::StrCat(s.desired_count()),
           absl::StrCat(s.running_count()), absl::StrCat(s.pending_count()),
           Service::Status_Name(s.status()), Age(s.created_at(), now)});
  }
  t.Print(out);
}

void PrintTasks(std::ostream& out, const std::vector<Task>& tasks, absl::Time now,
                const std::string& indent) {
  Table t({"ID", "SERVICE", "TASK DEFINITION", "NODE", "ZONE", "DESIRED", "LAST", "HEALTH",
           "ADDRESS", "PORTS", "AGE"});
  for (const auto& task : tasks) {
    t.Add({Short(task.id()), task.service(), task.task_definition(), task.node(), task.zone(),
           StatusName(task.desired_status()), StatusName(task.last_status()),
           task.health() == gantry::v1::Task::HEALTH_UNSPECIFIED
               ? "-"
               : gantry::v1::Task::Health_Name(task.health()),
           task.address().empty() ? "-" : task.address(), FormatPorts(task),
           Age(task.created_at(), now)});
  }
  t.Print(out, indent);
}

void PrintNodes(std::ostream& out, const std::vector<Node>& nodes, absl::Time now) {
  Table t({"NAME", "ZONE", "STATUS", "CHECKS", "ADDRESS", "TASK SUBNET", "CPU", "MEMORY", "TASKS",
           "HEARTBEAT"});
  for (const auto& n : nodes) {
    int passed = 0;
    for (const auto& c : n.checks()) passed += c.passed() ? 1 : 0;
    t.Add({n.name(), n.zone(), NodeStatusName(n.status()),
           absl::StrCat(passed, "/", n.checks_size(), " passed"), n.address(),
           n.task_subnet().empty() ? "-" : n.task_subnet(),
           absl::StrCat(FormatCpu(n.allocated().cpu()), "/", FormatCpu(n.capacity().cpu())),
           absl::StrCat(FormatMemory(n.allocated().memory()), "/",
                        FormatMemory(n.capacity().memory())),
           absl::StrCat(n.running_tasks()), absl::StrCat(Age(n.last_heartbeat(), now), " ago")});
  }
  t.Print(out);
}

void PrintTaskDefinitions(std::ostream& out, const std::vector<gantry::v1::TaskDefinition>& tds,
                          absl::Time now) {
  Table t({"TASK DEFINITION", "CONTAINERS", "CPU", "MEMORY", "AGE"});
  for (const auto& td : tds) {
    std::vector<std::string> names;
    int64_t cpu = 0;
    int64_t mem = 0;
    for (const auto& c : td.containers()) {
      names.push_back(c.name());
      cpu += c.cpu();
      mem += c.memory();
    }
    t.Add({absl::StrCat(td.family(), ":", td.revision()), absl::StrJoin(names, ","), FormatCpu(cpu),
           FormatMemory(mem), Age(td.created_at(), now)});
  }
  t.Print(out);
}

void PrintImages(std::ostream& out, const std::vector<gantry::v1::NodeImage>& images,
                 absl::Time now) {
  Table t({"NODE", "IMAGE", "DIGEST", "SIZE", "LAST USED", "IN USE"});
  for (const auto& i : images) {
    t.Add({i.node(), i.name(), i.digest().substr(0, 19), FormatMemory(i.size()),
           i.has_last_used() ? absl::StrCat(Age(i.last_used(), now), " ago") : "-",
           i.in_use() ? "yes" : "no"});
  }
  t.Print(out);
}

void PrintRoles(std::ostream& out, const std::vector<gantry::v1::Role>& roles) {
  Table t({"NAME", "BUILT-IN", "VERBS", "RESOURCES", "NAMES", "DESCRIPTION"});
  auto list = [](const auto& values) {
    return values.empty() ? std::string("*") : absl::StrJoin(values, ",");
  };
  for (const auto& r : roles) {
    // One line per rule; the role's name and description on its first.
    for (int i = 0; i < std::max(1, r.rules_size()); ++i) {
      const bool first = i == 0;
      std::vector<std::string> row = {first ? r.name() : "",
                                      first ? (r.built_in() ? "yes" : "no") : ""};
      if (i < r.rules_size()) {
        const auto& rule = r.rules(i);
        row.insert(row.end(), {list(rule.verbs()), list(rule.resources()), list(rule.names())});
      } else {
        row.insert(row.end(), {"-", "-", "-"});
      }
      row.push_back(first ? r.description() : "");
      t.Add(std::move(row));
    }
  }
  t.Print(out);
}

void PrintControlPlanes(std::ostream& out,
                        const std::vector<gantry::v1::ControlPlaneReplica>& replicas,
                        absl::Time now) {
  Table t({"NAME", "ADDRESS", "STATUS", "LEADER", "LEADING FOR", "EPOCH", "REVISION", "AGE"});
  for (const auto& r : replicas) {
    t.Add({Printable(r.name()), Printable(r.address()),
           r.up() ? "up" : "down (last seen " + Age(r.seen_at(), now) + " ago)",
           r.leader() ? "yes" : "", r.leader() ? Age(r.leader_since(), now) : "",
           r.leader() ? absl::StrCat(r.epoch()) : "", absl::StrCat(r.store_revision()),
           Age(r.started_at(), now)});
  }
  t.Print(out);
}

void PrintEvents(std::ostream& out, const std::vector<gantry::v1::Event>& events,
                 const std::string& indent) {
  Table t({"TIME", "MESSAGE"});
  for (const auto& e : events) t.Add({Time(e.time()), e.message()});
  t.Print(out, indent);
}

namespace {

std::string Number(double v) { return absl::StrFormat("%.4g", v); }

// "query = value" for each policy, or its error.
std::string LastValues(const gantry::v1::AutoscalingStatus& st) {
  std::vector<std::string> parts;
  for (const auto& v : st.values()) {
    parts.push_back(v.error().empty() ? absl::StrCat(Number(v.value()), " -> ", v.recommendation())
                                      : absl::StrCat("error: ", v.error()));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, "; ");
}

void DescribeAutoscaling(std::ostream& out, const Service& s, absl::Time now) {
  const auto& a = s.autoscaling();
  const auto& st = s.autoscaling_status();
  auto duration = [](bool set, const google::protobuf::Duration& d, const char* fallback) {
    return set ? FormatDurationText(FromProtoDuration(d)) : std::string(fallback);
  };
  out << "Autoscaling:\n";
  Table t({"  Bounds:", absl::StrCat(a.min_count(), "..", a.max_count(), " tasks")});
  t.Add({"  Prometheus:", a.prometheus()});
  t.Add({"  Cooldowns:",
         absl::StrCat(
             "scale-out ", duration(a.has_scale_out_cooldown(), a.scale_out_cooldown(), "30s"),
             ", scale-in ", duration(a.has_scale_in_cooldown(), a.scale_in_cooldown(), "5m"),
             ", scale-in window ",
             duration(a.has_scale_in_window(), a.scale_in_window(), "the scale-in cooldown"),
             a.disable_scale_in() ? " (scale-in disabled)" : "")});
  t.Add({"  Last evaluated:", st.has_last_evaluated()
                                  ? absl::StrCat(Age(st.last_evaluated(), now), " ago")
                                  : "not yet"});
  t.Add({"  Last decision:", st.last_decision().empty() ? "-" : st.last_decision()});
  if (st.has_last_scale_out()) {
    t.Add({"  Last scale-out:", absl::StrCat(Age(st.last_scale_out(), now), " ago")});
  }
  if (st.has_last_scale_in()) {
    t.Add({"  Last scale-in:", absl::StrCat(Age(st.last_scale_in(), now), " ago")});
  }
  t.Print(out);
  Table p({"POLICY", "QUERY", "GOAL", "VALUE", "RECOMMENDS"});
  auto add = [&](const std::string& kind, const std::string& query, const std::string& goal) {
    std::string value = "-";
    std::string recommends = "-";
    for (const auto& v : st.values()) {
      if (v.query() != query) continue;
      value = v.error().empty() ? Number(v.value()) : absl::StrCat("error: ", v.error());
      if (v.error().empty()) recommends = absl::StrCat(v.recommendation());
    }
    p.Add({kind, query, goal, value, recommends});
  };
  for (const auto& tt : a.target_tracking()) {
    add("target", tt.query(), absl::StrCat("target ", Number(tt.target())));
  }
  for (const auto& ss : a.step_scaling()) {
    std::vector<std::string> steps;
    for (const auto& step : ss.steps()) {
      steps.push_back(absl::StrCat(step.has_above() ? ">" : "<",
                                   Number(step.has_above() ? step.above() : step.below()), " ",
                                   step.adjust() > 0 ? "+" : "", step.adjust()));
    }
    add("step", ss.query(), absl::StrJoin(steps, ", "));
  }
  p.Print(out, "  ");
}

}  // namespace

void PrintAutoscaling(std::ostream& out, const std::vector<Service>& services, absl::Time now) {
  Table t({"SERVICE", "MIN", "MAX", "DESIRED", "RUNNING", "VALUES", "LAST DECISION", "EVALUATED"});
  for (const auto& s : services) {
    const auto& st = s.autoscaling_status();
    t.Add({s.name(), absl::StrCat(s.autoscaling().min_count()),
           absl::StrCat(s.autoscaling().max_count()), absl::StrCat(s.desired_count()),
           absl::StrCat(s.running_count()), LastValues(st),
           st.last_decision().empty() ? "-"
                                      : st.last_decision().substr(0, st.last_decision().find(':')),
           st.has_last_evaluated() ? absl::StrCat(Age(st.last_evaluated(), now), " ago") : "-"});
  }
  t.Print(out);
}

namespace {

// "spread(zone), binpack(memory); distinctInstance, memberOf(zone in [a])"
// and whether zones are rebalanced.
std::string DescribePlacement(const Service& s) {
  std::vector<std::string> strategies;
  for (const auto& st : s.placement().strategy()) {
    strategies.push_back(st.field().empty() ? st.type()
                                            : absl::StrCat(st.type(), "(", st.field(), ")"));
  }
  if (strategies.empty()) strategies = {"spread(zone)", "spread(node)"};
  std::vector<std::string> constraints;
  for (const auto& c : s.placement().constraints()) {
    constraints.push_back(
        c.expression().empty() ? c.type() : absl::StrCat(c.type(), "(", c.expression(), ")"));
  }
  std::string text = absl::StrJoin(strategies, ", ");
  if (!constraints.empty()) absl::StrAppend(&text, "; ", absl::StrJoin(constraints, ", "));
  absl::StrAppend(&text, "; zone rebalancing ",
                  !s.has_zone_rebalancing() || s.zone_rebalancing() ? "on" : "off");
  return text;
}

}  // namespace

void DescribeService(std::ostream& out, const Service& s, const std::vector<Task>& tasks,
                     const std::vector<gantry::v1::Event>& events, absl::Time now) {
  Table t({"Name:", s.name()});
  t.Add({"Status:", Service::Status_Name(s.status())});
  t.Add({"Task definition:",
         s.task_definition() == s.resolved_task_definition()
             ? s.task_definition()
             : absl::StrCat(s.task_definition(), " (runs ", s.resolved_task_definition(), ")")});
  t.Add({"Desired:", absl::StrCat(s.desired_count())});
  t.Add({"Running:", absl::StrCat(s.running_count())});
  t.Add({"Pending:", absl::StrCat(s.pending_count())});
  t.Add({"Placement:", DescribePlacement(s)});
  if (s.has_load_balancer()) {
    t.Add({"Load balancer:",
           absl::StrCat("port ", s.load_balancer().port(), " -> ", s.load_balancer().target_port(),
                        s.load_balancer().test_port() != 0
                            ? absl::StrCat(", test port ", s.load_balancer().test_port())
                            : "")});
  }
  const auto& alarms = s.deployment_configuration().alarms();
  if (!alarms.rules().empty()) {
    std::vector<std::string> names;
    for (const auto& r : alarms.rules()) names.push_back(r.name());
    t.Add({"Deployment alarms:",
           absl::StrCat(absl::StrJoin(names, ", "), " (Prometheus ", alarms.prometheus(), ")")});
  }
  t.Add({"Created:", Time(s.created_at())});
  t.Add({"Updated:", Time(s.updated_at())});
  t.Print(out);
  if (s.has_autoscaling()) DescribeAutoscaling(out, s, now);
  out << "Deployments:\n";
  if (s.deployments().empty()) {
    out << "  (none)\n";
  } else {
    Table d({"ID", "STATUS", "ROLLOUT", "TASK DEFINITION", "DESIRED", "PENDING", "RUNNING",
             "HEALTHY", "FAILED", "STRATEGY", "AGE"});
    for (const auto& dep : s.deployments()) {
      std::string strategy = dep.strategy();
      if (dep.phase() != gantry::v1::Deployment::PHASE_UNSPECIFIED) {
        strategy += absl::StrCat(" ", gantry::v1::Deployment::Phase_Name(dep.phase()));
        if (dep.strategy() == "blueGreen")
          absl::StrAppend(&strategy, " ", dep.traffic_percent(), "%");
      }
      d.Add({dep.id(), gantry::v1::Deployment::Status_Name(dep.status()),
             gantry::v1::Deployment::RolloutState_Name(dep.rollout_state()), dep.task_definition(),
             absl::StrCat(dep.desired_count()), absl::StrCat(dep.pending_count()),
             absl::StrCat(dep.running_count()), absl::StrCat(dep.healthy_count()),
             absl::StrCat(dep.failed_count()), strategy, Age(dep.created_at(), now)});
    }
    d.Print(out, "  ");
    for (const auto& dep : s.deployments()) {
      if (!dep.rollout_state_reason().empty()) {
        out << "  " << dep.id() << ": " << EscapeControls(dep.rollout_state_reason()) << "\n";
      }
      for (const auto& pin : dep.image_pins()) {
        out << "  " << dep.id() << ": " << pin.container() << " " << pin.image() << " pinned to "
            << pin.digest() << "\n";
      }
    }
  }
  out << "Tasks:\n";
  if (tasks.empty()) {
    out << "  (none)\n";
  } else {
    PrintTasks(out, tasks, now, "  ");
  }
  out << "Events:\n";
  if (events.empty()) {
    out << "  (none)\n";
  } else {
    PrintEvents(out, events, "  ");
  }
}

void DescribeTask(std::ostream& out, const Task& task, const std::vector<gantry::v1::Event>& events,
                  absl::Time now) {
  Table t({"ID:", task.id()});
  t.Add({"Service:", task.service()});
  t.Add({"Task definition:", task.task_definition()});
  t.Add({"Node:", absl::StrCat(task.node(), " (zone ", task.zone(), ")")});
  t.Add({"Desired status:", StatusName(task.desired_status())});
  t.Add({"Last status:", StatusName(task.last_status())});
  if (!task.stopped_reason().empty()) t.Add({"Stopped reason:", task.stopped_reason()});
  t.Add({"Resources:", absl::StrCat(FormatCpu(task.resources().cpu()), " cpu, ",
                                    FormatMemory(task.resources().memory()), " memory")});
  t.Add({"Created:", Time(task.created_at())});
  t.Add({"Started:", Time(task.started_at())});
  t.Add({"Stopped:", Time(task.stopped_at())});
  t.Print(out);
  out << "Containers:\n";
  Table c({"NAME", "IMAGE", "DIGEST", "STATUS", "EXIT CODE", "REASON"});
  for (const auto& cs : task.containers()) {
    c.Add({cs.name(), cs.image(), cs.image_digest().empty() ? "-" : cs.image_digest(),
           StatusName(cs.status()), cs.exited() ? absl::StrCat(cs.exit_code()) : "-",
           cs.reason().empty() ? "-" : cs.reason()});
  }
  c.Print(out, "  ");
  out << "Ports:\n";
  if (task.ports().empty()) {
    out << "  (none)\n";
  } else {
    Table p({"NAME", "HOST ADDRESS", "HOST PORT", "CONTAINER PORT"});
    for (const auto& b : task.ports()) {
      p.Add({b.name(), b.host_address(), absl::StrCat(b.host_port()),
             absl::StrCat(b.container_port())});
    }
    p.Print(out, "  ");
  }
  out << "Events:\n";
  std::vector<gantry::v1::Event> mine;
  for (const auto& e : events) {
    if (e.task() == task.id()) mine.push_back(e);
  }
  if (mine.empty()) {
    out << "  (none)\n";
  } else {
    PrintEvents(out, mine, "  ");
  }
  (void)now;
}

void DescribeNode(std::ostream& out, const Node& n, const std::vector<Task>& tasks,
                  absl::Time now) {
  Table t({"Name:", n.name()});
  t.Add({"Zone:", n.zone()});
  t.Add({"Status:", NodeStatusName(n.status())});
  t.Add({"Connected:", n.connected() ? "yes" : "no"});
  t.Add({"Address:", n.address()});
  std::vector<std::string> attrs;
  for (const auto& [k, v] : n.attributes()) attrs.push_back(absl::StrCat(k, "=", v));
  std::sort(attrs.begin(), attrs.end());
  t.Add({"Attributes:", attrs.empty() ? "-" : absl::StrJoin(attrs, ", ")});
  t.Add({"CPU:", absl::StrCat(FormatCpu(n.allocated().cpu()), " of ", FormatCpu(n.capacity().cpu()),
                              " allocated")});
  t.Add({"Memory:", absl::StrCat(FormatMemory(n.allocated().memory()), " of ",
                                 FormatMemory(n.capacity().memory()), " allocated")});
  t.Add({"Dynamic ports:", absl::StrCat(n.port_range_start(), "-", n.port_range_end())});
  t.Add({"Agent version:", n.agent_version()});
  t.Add({"Registered:", Time(n.registered_at())});
  t.Add({"Last heartbeat:",
         absl::StrCat(Time(n.last_heartbeat()), " (", Age(n.last_heartbeat(), now), " ago)")});
  t.Print(out);
  int passed = 0;
  for (const auto& c : n.checks()) passed += c.passed() ? 1 : 0;
  out << "Status checks: " << passed << "/" << n.checks_size() << " checks passed\n";
  Table checks({"CHECK", "RESULT", "SINCE", "DETAILS"});
  for (const auto& c : n.checks()) {
    checks.Add({c.name(), c.passed() ? "passed" : "FAILED", Time(c.since()), c.message()});
  }
  checks.Print(out, "  ");
  if (n.status() == gantry::v1::Node::DRAINING) {
    out << "No new tasks go to this node: it is DRAINING.\n";
  } else if (passed < n.checks_size()) {
    out << "No new tasks go to this node while a check fails.\n";
  }
  out << "Tasks:\n";
  if (tasks.empty()) {
    out << "  (none)\n";
  } else {
    PrintTasks(out, tasks, now, "  ");
  }
}

void DescribeTaskDefinition(std::ostream& out, const gantry::v1::TaskDefinition& td) {
  out << "Task definition: " << td.family() << ":" << td.revision() << "\n";
  out << "Created:         " << Time(td.created_at()) << "\n";
  for (const auto& c : td.containers()) {
    out << "Container " << c.name() << ":\n";
    Table t({"  Image:", c.image()});
    t.Add(
        {"  Command:", c.command().empty() ? "(image default)" : absl::StrJoin(c.command(), " ")});
    t.Add({"  CPU:", FormatCpu(c.cpu())});
    t.Add({"  Memory:", FormatMemory(c.memory())});
    t.Add({"  Essential:", c.essential() ? "yes" : "no"});
    t.Add({"  Stop timeout:", FormatDurationText(FromProtoDuration(c.stop_timeout()))});
    std::vector<std::string> ports;
    for (const auto& p : c.port_mappings()) {
      ports.push_back(absl::StrCat(p.name(), "=",
                                   p.host_port() == 0 ? "dynamic" : absl::StrCat(p.host_port())));
    }
    t.Add({"  Ports:", ports.empty() ? "-" : absl::StrJoin(ports, ", ")});
    std::vector<std::string> env;
    for (const auto& [k, v] : c.environment()) env.push_back(k);
    std::sort(env.begin(), env.end());
    // Values may be secrets: names only.
    t.Add({"  Environment:", env.empty() ? "-" : absl::StrJoin(env, ", ")});
    t.Print(out);
  }
}

std::string Printable(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out += ch;
    }
  }
  return out;
}

std::string When(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProtoTime(t), absl::UTCTimeZone());
}

}  // namespace gantry::ctl
