#include "ctl/spec_parser.h"

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/access/role_validation.h"
#include "common/quantity.h"
#include "common/spec/network_rules.h"
#include "common/spec/validation.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "common/yaml_guard.h"
#include "ctl/network_document.h"
#include "ctl/role_document.h"
#include "ctl/sandbox_parser.h"
#include "ctl/yaml_doc.h"
#include "yaml-cpp/yaml.h"

namespace gantry::ctl {
namespace {

void ParseHealthCheck(Doc& doc, const YAML::Node& n, const std::string& path,
                      gantry::v1::HealthCheck& h) {
  if (!CheckKeys(doc, n, path,
                 {"command", "http", "tcp", "interval", "timeout", "retries", "startPeriod"})) {
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string field = absl::StrCat(path, ".", key);
    if (key == "command") {
      for (auto& s : StringList(doc, v, field)) h.add_command(std::move(s));
    } else if (key == "http") {
      if (!CheckKeys(doc, v, field, {"port", "path"})) return;
      if (v["port"]) h.mutable_http()->set_port(Scalar(doc, v["port"], field + ".port"));
      if (v["path"]) h.mutable_http()->set_path(Scalar(doc, v["path"], field + ".path"));
      h.mutable_http();
    } else if (key == "tcp") {
      if (!CheckKeys(doc, v, field, {"port"})) return;
      h.mutable_tcp();
      if (v["port"]) h.mutable_tcp()->set_port(Scalar(doc, v["port"], field + ".port"));
    } else if (key == "interval") {
      DurationField(doc, v, field, *h.mutable_interval());
    } else if (key == "timeout") {
      DurationField(doc, v, field, *h.mutable_timeout());
    } else if (key == "startPeriod") {
      DurationField(doc, v, field, *h.mutable_start_period());
    } else if (key == "retries") {
      h.set_retries(static_cast<int32_t>(Integer(doc, v, field, 1, 10)));
    }
  }
}

void ParseContainer(Doc& doc, const YAML::Node& n, const std::string& path,
                    gantry::v1::ContainerDefinition& c) {
  std::set<std::string> keys = {"name",        "image",      "command",   "environment",
                                "cpu",         "memory",     "essential", "portMappings",
                                "stopTimeout", "pullPolicy", "pinDigest", "healthCheck",
                                "metrics",     "secrets"};
  keys.insert(SandboxKeys().begin(), SandboxKeys().end());
  if (!CheckKeys(doc, n, path, keys)) return;
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string field = absl::StrCat(path, ".", key);
    if (SandboxKeys().contains(key)) {
      ParseSandboxField(doc, key, v, field, c);
    } else if (key == "name") {
      c.set_name(Scalar(doc, v, field));
    } else if (key == "image") {
      c.set_image(Scalar(doc, v, field));
    } else if (key == "command") {
      for (auto& s : StringList(doc, v, field)) c.add_command(std::move(s));
    } else if (key == "environment") {
      if (!v.IsMap()) {
        doc.Fail(v, field, "expected a mapping of NAME: value");
        continue;
      }
      for (const auto& e : v) {
        (*c.mutable_environment())[e.first.as<std::string>()] =
            Scalar(doc, e.second, absl::StrCat(field, ".", e.first.as<std::string>()));
      }
    } else if (key == "cpu") {
      auto cpu = ParseCpu(Scalar(doc, v, field));
      if (!cpu.ok()) {
        doc.Fail(v, field, std::string(cpu.status().message()));
      } else {
        c.set_cpu(*cpu);
      }
    } else if (key == "memory") {
      auto mem = ParseMemory(Scalar(doc, v, field));
      if (!mem.ok()) {
        doc.Fail(v, field, std::string(mem.status().message()));
      } else {
        c.set_memory(*mem);
      }
    } else if (key == "essential") {
      c.set_essential(Bool(doc, v, field));
    } else if (key == "healthCheck") {
      ParseHealthCheck(doc, v, field, *c.mutable_health_check());
    } else if (key == "metrics") {
      if (!CheckKeys(doc, v, field, {"port", "path"})) continue;
      c.mutable_metrics();  // present even when empty, so validation names it
      if (v["port"]) c.mutable_metrics()->set_port(Scalar(doc, v["port"], field + ".port"));
      if (v["path"]) c.mutable_metrics()->set_path(Scalar(doc, v["path"], field + ".path"));
    } else if (key == "pinDigest") {
      c.set_pin_digest(Bool(doc, v, field));
    } else if (key == "pullPolicy") {
      c.set_pull_policy(Scalar(doc, v, field));
    } else if (key == "stopTimeout") {
      DurationField(doc, v, field, *c.mutable_stop_timeout());
    } else if (key == "secrets") {
      if (!v.IsSequence()) {
        doc.Fail(v, field, "expected a list of {name or file, valueFrom}");
        continue;
      }
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string sp = absl::StrCat(field, "[", i, "]");
        if (!CheckKeys(doc, v[i], sp, {"name", "file", "valueFrom"})) break;
        auto* ref = c.add_secrets();
        if (v[i]["name"]) ref->set_name(Scalar(doc, v[i]["name"], sp + ".name"));
        if (v[i]["file"]) ref->set_file(Scalar(doc, v[i]["file"], sp + ".file"));
        if (v[i]["valueFrom"])
          ref->set_value_from(Scalar(doc, v[i]["valueFrom"], sp + ".valueFrom"));
      }
    } else if (key == "portMappings") {
      if (!v.IsSequence()) {
        doc.Fail(v, field, "expected a list of {name, containerPort, hostPort}");
        continue;
      }
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string pp = absl::StrCat(field, "[", i, "]");
        if (!CheckKeys(doc, v[i], pp, {"name", "containerPort", "hostPort"})) break;
        auto* pm = c.add_port_mappings();
        if (v[i]["name"]) pm->set_name(Scalar(doc, v[i]["name"], pp + ".name"));
        if (v[i]["containerPort"]) {
          pm->set_container_port(static_cast<uint32_t>(
              Integer(doc, v[i]["containerPort"], pp + ".containerPort", 0, 65535)));
        }
        if (v[i]["hostPort"]) {
          pm->set_host_port(
              static_cast<uint32_t>(Integer(doc, v[i]["hostPort"], pp + ".hostPort", 0, 65535)));
        }
      }
    }
  }
}

void ParseTaskDefinition(Doc& doc, const YAML::Node& n, gantry::v1::TaskDefinition& td) {
  NameObject(doc, n, "family", "TaskDefinition");
  if (!CheckKeys(doc, n, "", {"kind", "family", "networkMode", "containers"})) return;
  if (n["family"]) td.set_family(Scalar(doc, n["family"], "family"));
  if (n["networkMode"]) td.set_network_mode(Scalar(doc, n["networkMode"], "networkMode"));
  const YAML::Node containers = n["containers"];
  if (!containers) return;  // validation reports it
  if (!containers.IsSequence()) {
    doc.Fail(containers, "containers", "expected a list of containers");
    return;
  }
  for (size_t i = 0; i < containers.size() && doc.ok(); ++i) {
    ParseContainer(doc, containers[i], absl::StrCat("containers[", i, "]"), *td.add_containers());
  }
}

void ParseDeploymentConfiguration(Doc& doc, const YAML::Node& n,
                                  gantry::v1::DeploymentConfiguration& out) {
  const std::string f = "deploymentConfiguration";
  if (!CheckKeys(doc, n, f,
                 {"minimumHealthyPercent", "maximumPercent", "circuitBreaker", "strategy",
                  "traffic", "bakeTime", "settleTime", "alarms"})) {
    return;
  }
  if (const YAML::Node a = n["alarms"]) {
    const std::string g = f + ".alarms";
    if (!CheckKeys(doc, a, g, {"prometheus", "rules", "onUnavailable"})) return;
    auto* alarms = out.mutable_alarms();
    if (a["prometheus"]) alarms->set_prometheus(Scalar(doc, a["prometheus"], g + ".prometheus"));
    if (a["onUnavailable"]) {
      alarms->set_on_unavailable(Scalar(doc, a["onUnavailable"], g + ".onUnavailable"));
    }
    if (const YAML::Node rules = a["rules"]) {
      if (!rules.IsSequence()) doc.Fail(rules, g + ".rules", "expected a list of {name, query}");
      for (size_t i = 0; rules.IsSequence() && i < rules.size(); ++i) {
        const std::string r = absl::StrCat(g, ".rules[", i, "]");
        if (!CheckKeys(doc, rules[i], r, {"name", "query"})) return;
        auto* rule = alarms->add_rules();
        if (rules[i]["name"]) rule->set_name(Scalar(doc, rules[i]["name"], r + ".name"));
        if (rules[i]["query"]) rule->set_query(Scalar(doc, rules[i]["query"], r + ".query"));
      }
    }
  }
  if (n["minimumHealthyPercent"]) {
    out.set_minimum_healthy_percent(static_cast<int32_t>(
        Integer(doc, n["minimumHealthyPercent"], f + ".minimumHealthyPercent", 0, 100)));
  }
  if (n["maximumPercent"]) {
    out.set_maximum_percent(
        static_cast<int32_t>(Integer(doc, n["maximumPercent"], f + ".maximumPercent", 100, 400)));
  }
  if (n["strategy"]) out.set_strategy(Scalar(doc, n["strategy"], f + ".strategy"));
  if (const YAML::Node cb = n["circuitBreaker"]) {
    const std::string g = f + ".circuitBreaker";
    if (!CheckKeys(doc, cb, g, {"enable", "rollback", "threshold"})) return;
    auto* c = out.mutable_circuit_breaker();
    if (cb["enable"]) c->set_enable(Bool(doc, cb["enable"], g + ".enable"));
    if (cb["rollback"]) c->set_rollback(Bool(doc, cb["rollback"], g + ".rollback"));
    if (cb["threshold"]) {
      c->set_threshold(
          static_cast<int32_t>(Integer(doc, cb["threshold"], g + ".threshold", 1, 200)));
    }
  }
  if (const YAML::Node t = n["traffic"]) {
    const std::string g = f + ".traffic";
    if (!CheckKeys(doc, t, g, {"type", "stepPercent", "percent", "interval"})) return;
    auto* tr = out.mutable_traffic();
    if (t["type"]) tr->set_type(Scalar(doc, t["type"], g + ".type"));
    if (t["stepPercent"]) {
      tr->set_step_percent(
          static_cast<int32_t>(Integer(doc, t["stepPercent"], g + ".stepPercent", 1, 99)));
    }
    if (t["percent"]) {
      tr->set_percent(static_cast<int32_t>(Integer(doc, t["percent"], g + ".percent", 1, 99)));
    }
    if (t["interval"]) DurationField(doc, t["interval"], g + ".interval", *tr->mutable_interval());
  }
  if (n["bakeTime"]) DurationField(doc, n["bakeTime"], f + ".bakeTime", *out.mutable_bake_time());
  if (n["settleTime"]) {
    DurationField(doc, n["settleTime"], f + ".settleTime", *out.mutable_settle_time());
  }
}

void ParseAutoscaling(Doc& doc, const YAML::Node& n, gantry::v1::Autoscaling& out) {
  const std::string f = "autoscaling";
  if (!CheckKeys(doc, n, f,
                 {"minCount", "maxCount", "prometheus", "targetTracking", "stepScaling",
                  "scaleOutCooldown", "scaleInCooldown", "scaleInWindow", "disableScaleIn"})) {
    return;
  }
  if (n["minCount"]) {
    out.set_min_count(
        static_cast<int32_t>(Integer(doc, n["minCount"], f + ".minCount", 0, INT32_MAX)));
  }
  if (n["maxCount"]) {
    out.set_max_count(
        static_cast<int32_t>(Integer(doc, n["maxCount"], f + ".maxCount", 0, INT32_MAX)));
  }
  if (n["prometheus"]) {
    const YAML::Node p = n["prometheus"];
    // Either `prometheus: http://...` or `prometheus: {address: http://...}`.
    if (p.IsMap()) {
      if (!CheckKeys(doc, p, f + ".prometheus", {"address"})) return;
      if (p["address"]) out.set_prometheus(Scalar(doc, p["address"], f + ".prometheus.address"));
    } else {
      out.set_prometheus(Scalar(doc, p, f + ".prometheus"));
    }
  }
  if (const YAML::Node tt = n["targetTracking"]) {
    if (!tt.IsSequence()) doc.Fail(tt, f + ".targetTracking", "expected a list of {query, target}");
    for (size_t i = 0; tt.IsSequence() && i < tt.size(); ++i) {
      const std::string g = absl::StrCat(f, ".targetTracking[", i, "]");
      if (!CheckKeys(doc, tt[i], g, {"query", "target"})) return;
      auto* t = out.add_target_tracking();
      if (tt[i]["query"]) t->set_query(Scalar(doc, tt[i]["query"], g + ".query"));
      if (tt[i]["target"]) t->set_target(Real(doc, tt[i]["target"], g + ".target"));
    }
  }
  if (const YAML::Node ss = n["stepScaling"]) {
    if (!ss.IsSequence()) doc.Fail(ss, f + ".stepScaling", "expected a list of {query, steps}");
    for (size_t i = 0; ss.IsSequence() && i < ss.size(); ++i) {
      const std::string g = absl::StrCat(f, ".stepScaling[", i, "]");
      if (!CheckKeys(doc, ss[i], g, {"query", "steps"})) return;
      auto* policy = out.add_step_scaling();
      if (ss[i]["query"]) policy->set_query(Scalar(doc, ss[i]["query"], g + ".query"));
      const YAML::Node steps = ss[i]["steps"];
      if (steps && !steps.IsSequence()) {
        doc.Fail(steps, g + ".steps", "expected a list of {above or below, adjust}");
      }
      for (size_t j = 0; steps && steps.IsSequence() && j < steps.size(); ++j) {
        const std::string h = absl::StrCat(g, ".steps[", j, "]");
        if (!CheckKeys(doc, steps[j], h, {"above", "below", "adjust"})) return;
        auto* step = policy->add_steps();
        if (steps[j]["above"]) step->set_above(Real(doc, steps[j]["above"], h + ".above"));
        if (steps[j]["below"]) step->set_below(Real(doc, steps[j]["below"], h + ".below"));
        if (steps[j]["adjust"]) {
          step->set_adjust(static_cast<int32_t>(
              Integer(doc, steps[j]["adjust"], h + ".adjust", -100000, 100000)));
        }
      }
    }
  }
  if (n["scaleOutCooldown"]) {
    DurationField(doc, n["scaleOutCooldown"], f + ".scaleOutCooldown",
                  *out.mutable_scale_out_cooldown());
  }
  if (n["scaleInCooldown"]) {
    DurationField(doc, n["scaleInCooldown"], f + ".scaleInCooldown",
                  *out.mutable_scale_in_cooldown());
  }
  if (n["scaleInWindow"]) {
    DurationField(doc, n["scaleInWindow"], f + ".scaleInWindow", *out.mutable_scale_in_window());
  }
  if (n["disableScaleIn"]) {
    out.set_disable_scale_in(Bool(doc, n["disableScaleIn"], f + ".disableScaleIn"));
  }
}

void ParseService(Doc& doc, const YAML::Node& n, gantry::v1::Service& s) {
  NameObject(doc, n, "name", "Service");
  if (!CheckKeys(doc, n, "",
                 {"kind", "name", "taskDefinition", "desiredCount", "placement", "zoneRebalancing",
                  "deploymentConfiguration", "loadBalancer", "autoscaling", "ingress"})) {
    return;
  }
  if (const YAML::Node a = n["autoscaling"]) ParseAutoscaling(doc, a, *s.mutable_autoscaling());
  ParseIngress(doc, n, s);
  if (n["name"]) s.set_name(Scalar(doc, n["name"], "name"));
  if (n["taskDefinition"])
    s.set_task_definition(Scalar(doc, n["taskDefinition"], "taskDefinition"));
  if (n["desiredCount"]) {
    s.set_desired_count(static_cast<int32_t>(
        Integer(doc, n["desiredCount"], "desiredCount", INT32_MIN, INT32_MAX)));
  }
  if (const YAML::Node dc = n["deploymentConfiguration"]) {
    ParseDeploymentConfiguration(doc, dc, *s.mutable_deployment_configuration());
  }
  if (const YAML::Node lb = n["loadBalancer"]) {
    const std::string f = "loadBalancer";
    if (!CheckKeys(doc, lb, f, {"port", "targetPort", "testPort", "deregistrationDelay"})) return;
    auto* out = s.mutable_load_balancer();
    if (lb["port"]) {
      out->set_port(static_cast<uint32_t>(Integer(doc, lb["port"], f + ".port", 1, 65535)));
    }
    if (lb["targetPort"]) out->set_target_port(Scalar(doc, lb["targetPort"], f + ".targetPort"));
    if (lb["testPort"]) {
      out->set_test_port(
          static_cast<uint32_t>(Integer(doc, lb["testPort"], f + ".testPort", 1, 65535)));
    }
    if (lb["deregistrationDelay"]) {
      DurationField(doc, lb["deregistrationDelay"], f + ".deregistrationDelay",
                    *out->mutable_deregistration_delay());
    }
  }
  if (n["zoneRebalancing"]) {
    s.set_zone_rebalancing(Bool(doc, n["zoneRebalancing"], "zoneRebalancing"));
  }
  if (const YAML::Node p = n["placement"]) {
    if (!CheckKeys(doc, p, "placement", {"strategy", "constraints"})) return;
    if (const YAML::Node st = p["strategy"]) {
      if (!st.IsSequence()) {
        doc.Fail(st, "placement.strategy", "expected a list of {type, field}");
      }
      for (size_t i = 0; st.IsSequence() && i < st.size(); ++i) {
        const std::string f = absl::StrCat("placement.strategy[", i, "]");
        if (!CheckKeys(doc, st[i], f, {"type", "field"})) return;
        auto* out = s.mutable_placement()->add_strategy();
        if (st[i]["type"]) out->set_type(Scalar(doc, st[i]["type"], f + ".type"));
        if (st[i]["field"]) out->set_field(Scalar(doc, st[i]["field"], f + ".field"));
      }
    }
    if (const YAML::Node cs = p["constraints"]) {
      if (!cs.IsSequence()) {
        doc.Fail(cs, "placement.constraints", "expected a list of {type, expression}");
      }
      for (size_t i = 0; cs.IsSequence() && i < cs.size(); ++i) {
        const std::string f = absl::StrCat("placement.constraints[", i, "]");
        if (!CheckKeys(doc, cs[i], f, {"type", "expression"})) return;
        auto* out = s.mutable_placement()->add_constraints();
        if (cs[i]["type"]) out->set_type(Scalar(doc, cs[i]["type"], f + ".type"));
        if (cs[i]["expression"]) {
          out->set_expression(Scalar(doc, cs[i]["expression"], f + ".expression"));
        }
      }
    }
  }
}

// Every document into `request`; `number` counts them as they are read.
absl::StatusOr<gantry::v1::ApplyRequest> ParseDocuments(const std::vector<YAML::Node>& docs,
                                                        const std::string& source,
                                                        gantry::v1::ApplyRequest& request,
                                                        int& number);

}  // namespace

absl::StatusOr<gantry::v1::ApplyRequest> ParseSpecs(const std::string& text,
                                                    const std::string& source) {
  ASSIGN_OR_RETURN(const std::vector<YAML::Node> docs, LoadYamlDocuments(text, source));
  gantry::v1::ApplyRequest request;
  int number = 0;
  // A node of another shape than a field expects (a map where a name
  // belongs) makes yaml-cpp throw; it is the document's error, not a crash.
  try {
    return ParseDocuments(docs, source, request, number);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": document ", std::max(number, 1),
                                                   ": line ", e.mark.line + 1, ": ", e.msg));
  }
}

namespace {

absl::StatusOr<gantry::v1::ApplyRequest> ParseDocuments(const std::vector<YAML::Node>& docs,
                                                        const std::string& source,
                                                        gantry::v1::ApplyRequest& request,
                                                        int& number) {
  for (const auto& node : docs) {
    if (node.IsNull()) continue;  // empty document, e.g. a trailing ---
    ++number;
    Doc doc(absl::StrCat(source, ": document ", number));
    if (!node.IsMap() || !node["kind"]) {
      doc.Fail(node, "kind", "required: TaskDefinition, Service, Role or NetworkAcl");
      return doc.status();
    }
    const std::string kind = Scalar(doc, node["kind"], "kind");
    if (kind == "TaskDefinition") {
      auto* td = request.add_task_definitions();
      ParseTaskDefinition(doc, node, *td);
      if (doc.ok()) {
        spec::ApplyDefaults(*td);
        auto st = spec::ErrorsToStatus(doc.prefix(), spec::ValidateTaskDefinition(*td));
        if (!st.ok()) return st;
      }
    } else if (kind == "Service") {
      auto* s = request.add_services();
      ParseService(doc, node, *s);
      if (doc.ok()) {
        auto st = spec::ErrorsToStatus(doc.prefix(), spec::ValidateService(*s));
        if (!st.ok()) return st;
      }
    } else if (kind == "Role") {
      auto* role = request.add_roles();
      ParseRole(doc, node, *role);
      if (doc.ok()) {
        auto st = spec::ErrorsToStatus(doc.prefix(), access::ValidateRole(*role));
        if (!st.ok()) return st;
      }
    } else if (kind == "NetworkAcl") {
      auto* acl = request.add_network_acls();
      ParseNetworkAcl(doc, node, *acl);
      if (doc.ok()) {
        auto st = spec::ErrorsToStatus(doc.prefix(), spec::ValidateNetworkAcl(*acl));
        if (!st.ok()) return st;
      }
    } else {
      doc.Fail(node["kind"], "kind",
               absl::StrCat("unknown kind \"", kind,
                            "\" (expected TaskDefinition, Service, Role or NetworkAcl)"));
    }
    if (!doc.ok()) return doc.status();
  }
  if (number == 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no documents to apply"));
  }
  return request;
}

}  // namespace

absl::StatusOr<gantry::v1::ApplyRequest> ParseSpecFile(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ParseSpecs(ss.str(), "<stdin>");
  }
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read the file"));
  }
  ss << in.rdbuf();
  return ParseSpecs(ss.str(), path);
}

}  // namespace gantry::ctl
