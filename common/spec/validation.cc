#include "common/spec/validation.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/placement/policy.h"
#include "common/quantity.h"
#include "common/registry/reference.h"
#include "common/spec/bounds.h"
#include "common/spec/network_rules.h"
#include "common/spec/sandbox.h"
#include "common/spec/secret_refs.h"
#include "common/time_util.h"

namespace gantry::spec {
namespace {

using gantry::v1::ContainerDefinition;

bool IsNameChar(char c, bool allow_upper) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' ||
         (allow_upper && absl::ascii_isupper(c));
}

// Names that end up in container ids, env variable names and file paths.
std::string CheckName(absl::string_view name, size_t max_len, bool allow_upper) {
  if (name.empty()) return "required";
  if (name.size() > max_len) return absl::StrCat("longer than ", max_len, " characters");
  for (char c : name) {
    if (!IsNameChar(c, allow_upper)) {
      return absl::StrCat("\"", name, "\" may contain only ",
                          allow_upper ? "letters" : "lowercase letters", ", digits, '-' and '_'");
    }
  }
  if (!absl::ascii_isalnum(name.front())) {
    return absl::StrCat("\"", name, "\" must start with a letter or digit");
  }
  return "";
}

void ValidateContainer(const ContainerDefinition& c, const std::string& path, bool host_network,
                       std::vector<FieldError>& errors, std::set<std::string>& port_names,
                       std::set<uint32_t>& host_ports) {
  auto add = [&](absl::string_view field, std::string problem) {
    errors.push_back({absl::StrCat(path, ".", field), std::move(problem)});
  };
  if (auto p = CheckName(c.name(), 63, false); !p.empty()) add("name", p);
  if (c.image().empty()) {
    add("image", "required, e.g. registry.example.org/team/app:1.2");
  } else if (auto ref = registry::ParseReference(c.image()); !ref.ok()) {
    add("image", std::string(ref.status().message()));
  }
  if (!c.pull_policy().empty() && c.pull_policy() != "ifNotPresent" &&
      c.pull_policy() != "always") {
    add("pullPolicy", absl::StrCat("\"", c.pull_policy(), "\": expected ifNotPresent or always"));
  }
  if (c.cpu() < 0) add("cpu", absl::StrCat("must be >= 0, got ", c.cpu(), "m"));
  if (c.memory() <= 0) {
    add("memory", "required: the container's hard memory limit, e.g. 64Mi");
  } else if (c.memory() < kMinMemoryBytes) {
    add("memory", absl::StrCat("must be at least 4Mi, got ", FormatMemory(c.memory())));
  }
  for (const auto& [key, value] : c.environment()) {
    if (!IsEnvName(key)) {
      add(absl::StrCat("environment.", key),
          "not a valid variable name (letters, digits and '_', not starting with a digit)");
    } else if (absl::StartsWith(key, "GANTRY_")) {
      add(absl::StrCat("environment.", key), "names starting with GANTRY_ are set by Gantry");
    }
  }
  if (c.has_stop_timeout()) {
    const absl::Duration d = FromProtoDuration(c.stop_timeout());
    if (d < absl::ZeroDuration() || d > absl::Minutes(10)) {
      add("stopTimeout", absl::StrCat("must be between 0s and 10m, got ", FormatDurationText(d)));
    }
  }
  for (int i = 0; i < c.port_mappings_size(); ++i) {
    const auto& pm = c.port_mappings(i);
    const std::string pp = absl::StrCat("portMappings[", i, "]");
    if (auto p = CheckName(pm.name(), 32, false); !p.empty()) {
      add(absl::StrCat(pp, ".name"), p);
    } else if (!port_names.insert(pm.name()).second) {
      add(absl::StrCat(pp, ".name"),
          absl::StrCat("\"", pm.name(), "\" is used by another port of this task"));
    }
    if (pm.container_port() > 65535) {
      add(absl::StrCat(pp, ".containerPort"), "must be <= 65535");
    }
    if (pm.host_port() > 65535) add(absl::StrCat(pp, ".hostPort"), "must be <= 65535");
    // With its own network a task's ports are mapped; on the host's
    // network they are the host's.
    if (host_network && pm.container_port() != 0 && pm.host_port() == 0) {
      add(absl::StrCat(pp, ".containerPort"),
          absl::StrCat("networkMode host: a fixed containerPort ", pm.container_port(),
                       " needs the same hostPort; for a dynamic port set containerPort: 0 "
                       "and listen on $GANTRY_PORT_",
                       absl::AsciiStrToUpper(pm.name())));
    } else if (host_network && pm.container_port() != 0 && pm.container_port() != pm.host_port()) {
      add(absl::StrCat(pp, ".containerPort"),
          absl::StrCat("must equal hostPort (", pm.host_port(),
                       ") or be 0: networkMode host shares the node's ports"));
    }
    if (pm.host_port() != 0 && !host_ports.insert(pm.host_port()).second) {
      add(absl::StrCat(pp, ".hostPort"),
          absl::StrCat(pm.host_port(), " is used by another port of this task"));
    }
  }
}

void ValidateHealthCheck(const gantry::v1::HealthCheck& h, const std::string& path,
                         const std::set<std::string>& port_names, std::vector<FieldError>& errors) {
  auto add = [&](absl::string_view field, std::string problem) {
    errors.push_back({absl::StrCat(path, ".", field), std::move(problem)});
  };
  const int kinds = (h.command().empty() ? 0 : 1) + (h.has_http() ? 1 : 0) + (h.has_tcp() ? 1 : 0);
  if (kinds != 1) {
    errors.push_back({path, "give exactly one of command, http and tcp"});
    return;
  }
  if (!h.command().empty()) {
    const std::string& kind = h.command(0);
    if ((kind != "CMD" && kind != "CMD-SHELL") || h.command_size() < 2) {
      add("command",
          "expected [\"CMD\", \"executable\", \"arg\"...] or [\"CMD-SHELL\", \"shell command\"]");
    } else if (kind == "CMD-SHELL" && h.command_size() != 2) {
      add("command", "CMD-SHELL takes one shell command string");
    }
  }
  auto check_port = [&](absl::string_view field, const std::string& port) {
    if (!port_names.contains(port)) {
      add(field, absl::StrCat("\"", port, "\" is not the name of one of the task's ports"));
    }
  };
  if (h.has_http()) {
    check_port("http.port", h.http().port());
    if (!h.http().path().empty() && h.http().path()[0] != '/') {
      add("http.path", "must start with /");
    }
  }
  if (h.has_tcp()) check_port("tcp.port", h.tcp().port());
  auto range = [&](absl::string_view field, const google::protobuf::Duration& d, absl::Duration lo,
                   absl::Duration hi) {
    const absl::Duration v = FromProtoDuration(d);
    if (v < lo || v > hi) {
      add(field, absl::StrCat("must be between ", FormatDurationText(lo), " and ",
                              FormatDurationText(hi), ", got ", FormatDurationText(v)));
    }
  };
  range("interval", h.interval(), absl::Seconds(5), absl::Seconds(300));
  range("timeout", h.timeout(), absl::Seconds(2), absl::Seconds(60));
  range("startPeriod", h.start_period(), absl::ZeroDuration(), absl::Seconds(300));
  if (h.retries() < 1 || h.retries() > 10) {
    add("retries", absl::StrCat("must be between 1 and 10, got ", h.retries()));
  }
}

std::string CheckPrometheusAddress(const std::string& address) {
  if (address.empty()) return "required: where Prometheus answers, e.g. http://127.0.0.1:9090";
  if (!absl::StartsWith(address, "http://") && !absl::StartsWith(address, "https://")) {
    return absl::StrCat("\"", address, "\": expected an http:// or https:// address");
  }
  return "";
}

void CheckDuration(const google::protobuf::Duration& d, const std::string& field,
                   std::vector<FieldError>& errors) {
  const absl::Duration v = FromProtoDuration(d);
  if (v < absl::ZeroDuration() || v > absl::Hours(24)) {
    errors.push_back(
        {field, absl::StrCat("must be between 0s and 24h, got ", FormatDurationText(v))});
  }
}

void ValidateAutoscaling(const gantry::v1::Autoscaling& a, std::vector<FieldError>& errors) {
  auto add = [&](const std::string& field, std::string problem) {
    errors.push_back({absl::StrCat("autoscaling.", field), std::move(problem)});
  };
  if (a.min_count() < 0) add("minCount", absl::StrCat("must be >= 0, got ", a.min_count()));
  if (a.max_count() < 1 || a.max_count() > kMaxDesiredCount) {
    add("maxCount",
        absl::StrCat("must be between 1 and ", kMaxDesiredCount, ", got ", a.max_count()));
  } else if (a.min_count() > a.max_count()) {
    add("minCount",
        absl::StrCat("must not exceed maxCount (", a.max_count(), "), got ", a.min_count()));
  }
  if (auto p = CheckPrometheusAddress(a.prometheus()); !p.empty()) add("prometheus", p);
  if (a.target_tracking().empty() && a.step_scaling().empty()) {
    add("targetTracking", "at least one targetTracking or stepScaling policy is required");
  }
  for (int i = 0; i < a.target_tracking_size(); ++i) {
    const auto& t = a.target_tracking(i);
    const std::string path = absl::StrCat("targetTracking[", i, "]");
    if (t.query().empty()) add(path + ".query", "required: a PromQL expression with one value");
    if (!(t.target() > 0)) {
      add(path + ".target", absl::StrCat("must be > 0, got ", t.target()));
    }
  }
  for (int i = 0; i < a.step_scaling_size(); ++i) {
    const auto& ss = a.step_scaling(i);
    const std::string path = absl::StrCat("stepScaling[", i, "]");
    if (ss.query().empty()) add(path + ".query", "required: a PromQL expression with one value");
    if (ss.steps().empty()) add(path + ".steps", "at least one step is required");
    for (int j = 0; j < ss.steps_size(); ++j) {
      const auto& step = ss.steps(j);
      const std::string sp = absl::StrCat(path, ".steps[", j, "]");
      if (step.has_above() == step.has_below()) {
        add(sp, "needs exactly one of above or below");
      }
      if (step.adjust() == 0) add(sp + ".adjust", "must not be 0, e.g. +2 or -1");
    }
  }
  CheckDuration(a.scale_out_cooldown(), "autoscaling.scaleOutCooldown", errors);
  CheckDuration(a.scale_in_cooldown(), "autoscaling.scaleInCooldown", errors);
  CheckDuration(a.scale_in_window(), "autoscaling.scaleInWindow", errors);
}

void ValidateAlarms(const gantry::v1::DeploymentConfiguration::Alarms& alarms,
                    std::vector<FieldError>& errors) {
  const std::string base = "deploymentConfiguration.alarms";
  if (alarms.rules().empty()) {
    if (!alarms.prometheus().empty()) {
      errors.push_back({base + ".rules", "at least one rule is required with prometheus"});
    }
    return;
  }
  if (auto p = CheckPrometheusAddress(alarms.prometheus()); !p.empty()) {
    errors.push_back({base + ".prometheus", p});
  }
  if (!alarms.on_unavailable().empty() && alarms.on_unavailable() != "fail" &&
      alarms.on_unavailable() != "proceed") {
    errors.push_back({base + ".onUnavailable",
                      absl::StrCat("\"", alarms.on_unavailable(), "\": expected fail or proceed")});
  }
  std::set<std::string> names;
  for (int i = 0; i < alarms.rules_size(); ++i) {
    const auto& r = alarms.rules(i);
    const std::string path = absl::StrCat(base, ".rules[", i, "]");
    if (r.name().empty()) {
      errors.push_back({path + ".name", "required"});
    } else if (!names.insert(r.name()).second) {
      errors.push_back(
          {path + ".name", absl::StrCat("\"", r.name(), "\" is used by another rule")});
    }
    if (r.query().empty()) {
      errors.push_back({path + ".query",
                        "required: a PromQL expression that returns no series "
                        "while all is well"});
    }
  }
}

}  // namespace

void ApplyDefaults(gantry::v1::TaskDefinition& td) {
  if (td.network_mode().empty()) td.set_network_mode(kDefaultNetworkMode);
  for (auto& c : *td.mutable_containers()) {
    if (!c.has_essential()) c.set_essential(true);
    if (!c.has_stop_timeout()) *c.mutable_stop_timeout() = ToProtoDuration(absl::Seconds(30));
    if (c.pids_limit() == 0) c.set_pids_limit(kDefaultPidsLimit);
    if (c.has_health_check()) {
      auto* h = c.mutable_health_check();
      if (!h->has_interval()) *h->mutable_interval() = ToProtoDuration(absl::Seconds(30));
      if (!h->has_timeout()) *h->mutable_timeout() = ToProtoDuration(absl::Seconds(5));
      if (h->retries() == 0) h->set_retries(3);
      if (!h->has_start_period())
        *h->mutable_start_period() = ToProtoDuration(absl::ZeroDuration());
      if (h->has_http() && h->http().path().empty()) h->mutable_http()->set_path("/");
    }
  }
}

std::string NetworkModeOf(const gantry::v1::TaskDefinition& td) {
  return td.network_mode().empty() ? kUnsetNetworkMode : td.network_mode();
}

std::vector<FieldError> ValidateTaskDefinition(const gantry::v1::TaskDefinition& td) {
  std::vector<FieldError> errors;
  CheckTaskDefinitionBounds(td, errors);
  if (auto p = CheckName(td.family(), 128, true); !p.empty()) errors.push_back({"family", p});
  if (!td.network_mode().empty() && td.network_mode() != "task" && td.network_mode() != "host") {
    errors.push_back({"networkMode", absl::StrCat("\"", td.network_mode(),
                                                  "\" is not a network mode; use task or host")});
  }
  const bool host_network = NetworkModeOf(td) == "host";
  if (td.containers().empty()) {
    errors.push_back({"containers", "at least one container is required"});
  }
  std::set<std::string> names;
  std::set<std::string> port_names;
  std::set<uint32_t> host_ports;
  bool any_essential = false;
  for (int i = 0; i < td.containers_size(); ++i) {
    const auto& c = td.containers(i);
    const std::string path = absl::StrCat("containers[", i, "]");
    if (!c.name().empty() && !names.insert(c.name()).second) {
      errors.push_back({absl::StrCat(path, ".name"),
                        absl::StrCat("\"", c.name(), "\" is used by another container")});
    }
    if (!c.has_essential() || c.essential()) any_essential = true;
    ValidateContainer(c, path, host_network, errors, port_names, host_ports);
    ValidateSecretReferences(c, path, errors);
    ValidateSandbox(c, path, errors);
  }
  if (!td.containers().empty() && !any_essential) {
    errors.push_back({"containers", "at least one container must be essential"});
  }
  for (int i = 0; i < td.containers_size(); ++i) {
    const auto& m = td.containers(i).metrics();
    const std::string path = absl::StrCat("containers[", i, "].metrics");
    if (!td.containers(i).has_metrics()) continue;
    if (!port_names.contains(m.port())) {
      errors.push_back({absl::StrCat(path, ".port"),
                        absl::StrCat("\"", m.port(), "\" is not the name of a port of this task")});
    }
    if (!m.path().empty() && !absl::StartsWith(m.path(), "/")) {
      errors.push_back({absl::StrCat(path, ".path"), "must start with /, e.g. /metrics"});
    }
  }
  for (int i = 0; i < td.containers_size(); ++i) {
    if (!td.containers(i).has_health_check()) continue;
    gantry::v1::TaskDefinition with_defaults;
    *with_defaults.add_containers() = td.containers(i);
    ApplyDefaults(with_defaults);
    ValidateHealthCheck(with_defaults.containers(0).health_check(),
                        absl::StrCat("containers[", i, "].healthCheck"), port_names, errors);
  }
  return errors;
}

namespace {

void ValidateDeploymentConfiguration(const gantry::v1::Service& service,
                                     std::vector<FieldError>& errors) {
  const auto& dc = service.deployment_configuration();
  if (dc.has_minimum_healthy_percent() &&
      (dc.minimum_healthy_percent() < 0 || dc.minimum_healthy_percent() > 100)) {
    errors.push_back(
        {"deploymentConfiguration.minimumHealthyPercent",
         absl::StrCat("must be between 0 and 100, got ", dc.minimum_healthy_percent())});
  }
  if (dc.has_maximum_percent() && (dc.maximum_percent() < 100 || dc.maximum_percent() > 400)) {
    errors.push_back({"deploymentConfiguration.maximumPercent",
                      absl::StrCat("must be between 100 and 400, got ", dc.maximum_percent())});
  }
  const int min_pct = dc.has_minimum_healthy_percent() ? dc.minimum_healthy_percent() : 100;
  const int max_pct = dc.has_maximum_percent() ? dc.maximum_percent() : 200;
  if (min_pct >= 100 && max_pct <= 100) {
    errors.push_back({"deploymentConfiguration.maximumPercent",
                      "with minimumHealthyPercent 100, maximumPercent must be above 100, or no "
                      "task could ever be replaced"});
  }
  if (dc.circuit_breaker().threshold() < 0) {
    errors.push_back({"deploymentConfiguration.circuitBreaker.threshold", "must be >= 0"});
  }
  if (!dc.strategy().empty() && dc.strategy() != "rolling" && dc.strategy() != "blueGreen") {
    errors.push_back({"deploymentConfiguration.strategy",
                      absl::StrCat("\"", dc.strategy(), "\": expected rolling or blueGreen")});
  }
  if (dc.strategy() == "blueGreen" && !service.has_load_balancer()) {
    errors.push_back({"deploymentConfiguration.strategy",
                      "blueGreen shifts traffic through the load balancer: add loadBalancer"});
  }
  const auto& tr = dc.traffic();
  const absl::Duration interval = FromProtoDuration(tr.interval());
  if (!tr.type().empty() && tr.type() != "allAtOnce" && tr.type() != "linear" &&
      tr.type() != "canary") {
    errors.push_back({"deploymentConfiguration.traffic.type",
                      absl::StrCat("\"", tr.type(), "\": expected allAtOnce, linear or canary")});
  }
  if (tr.type() == "linear" && (tr.step_percent() < 1 || tr.step_percent() > 99)) {
    errors.push_back({"deploymentConfiguration.traffic.stepPercent",
                      "linear needs a stepPercent between 1 and 99"});
  }
  if (tr.type() == "canary" && (tr.percent() < 1 || tr.percent() > 99)) {
    errors.push_back(
        {"deploymentConfiguration.traffic.percent", "canary needs a percent between 1 and 99"});
  }
  if ((tr.type() == "linear" || tr.type() == "canary") && interval < absl::Seconds(1)) {
    errors.push_back({"deploymentConfiguration.traffic.interval",
                      "linear and canary need an interval of at least 1s"});
  }
}

void ValidateLoadBalancer(const gantry::v1::Service& service, std::vector<FieldError>& errors) {
  if (!service.has_load_balancer()) return;
  const auto& dc = service.deployment_configuration();
  const auto& lb = service.load_balancer();
  if (lb.port() == 0 || lb.port() > 65535) {
    errors.push_back({"loadBalancer.port", "required, 1-65535"});
  }
  if (lb.target_port().empty()) {
    errors.push_back({"loadBalancer.targetPort", "required: the name of the task's port"});
  }
  if (lb.test_port() > 65535 || (lb.test_port() != 0 && lb.test_port() == lb.port())) {
    errors.push_back({"loadBalancer.testPort", "must be 1-65535 and differ from port"});
  }
  if (dc.strategy() == "blueGreen" && lb.test_port() == 0) {
    errors.push_back({"loadBalancer.testPort", "blueGreen needs a test port"});
  }
}

}  // namespace

std::vector<FieldError> ValidateService(const gantry::v1::Service& service) {
  std::vector<FieldError> errors;
  CheckServiceBounds(service, errors);
  if (auto p = CheckName(service.name(), 63, false); !p.empty()) {
    errors.push_back({"name", p});
  }
  if (service.task_definition().empty()) {
    errors.push_back({"taskDefinition", "required: a family (\"web\") or a revision (\"web:3\")"});
  } else if (auto ref = ParseTaskDefinitionRef(service.task_definition()); !ref.ok()) {
    errors.push_back({"taskDefinition", std::string(ref.status().message())});
  }
  if (service.desired_count() < 0) {
    errors.push_back({"desiredCount", absl::StrCat("must be >= 0, got ", service.desired_count())});
  } else if (service.desired_count() > kMaxDesiredCount) {
    errors.push_back({"desiredCount", absl::StrCat("must be <= ", kMaxDesiredCount, ", got ",
                                                   service.desired_count())});
  }
  ValidateDeploymentConfiguration(service, errors);
  ValidateLoadBalancer(service, errors);
  const auto& dc = service.deployment_configuration();
  if (service.has_autoscaling()) ValidateAutoscaling(service.autoscaling(), errors);
  ValidateAlarms(dc.alarms(), errors);
  ValidateIngress(service, errors);
  if (auto policy = scheduler::PlacementPolicy::FromProto(service.placement()); !policy.ok()) {
    // The message starts with the field path ("placement.strategy[0].type: ...").
    const std::string message(policy.status().message());
    const size_t colon = message.find(": ");
    errors.push_back({message.substr(0, colon), message.substr(colon + 2)});
  }
  return errors;
}

absl::Status ErrorsToStatus(absl::string_view context, const std::vector<FieldError>& errors) {
  if (errors.empty()) return absl::OkStatus();
  std::vector<std::string> parts;
  parts.reserve(errors.size());
  for (const auto& e : errors) parts.push_back(absl::StrCat(e.field, ": ", e.problem));
  std::string message = absl::StrJoin(parts, "; ");
  if (!context.empty()) message = absl::StrCat(context, ": ", message);
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<TaskDefinitionRef> ParseTaskDefinitionRef(absl::string_view ref) {
  TaskDefinitionRef out;
  const size_t colon = ref.find(':');
  out.family = std::string(ref.substr(0, colon));
  if (auto p = CheckName(out.family, 128, true); !p.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("family ", p));
  }
  if (colon != absl::string_view::npos) {
    const absl::string_view rev = ref.substr(colon + 1);
    if (!absl::SimpleAtoi(rev, &out.revision) || out.revision <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", ref, "\": the revision after ':' must be a positive number, as in web:3"));
    }
  }
  return out;
}

}  // namespace gantry::spec
