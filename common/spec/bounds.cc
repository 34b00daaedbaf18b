#include "common/spec/bounds.h"

#include "absl/strings/str_cat.h"

namespace gantry::spec {
namespace {

using gantry::v1::ContainerDefinition;

class Checker {
 public:
  explicit Checker(std::vector<FieldError>& errors) : errors_(errors) {}

  void Count(const std::string& field, int count, int limit, absl::string_view what) {
    if (count > limit) {
      errors_.push_back(
          {field, absl::StrCat(count, " ", what, " is more than the limit of ", limit)});
    }
  }
  void Length(const std::string& field, size_t length, size_t limit) {
    if (length > limit) {
      errors_.push_back(
          {field, absl::StrCat(length, " bytes is longer than the limit of ", limit)});
    }
  }
  template <typename Strings>
  void Arguments(const std::string& field, const Strings& args, int max_args, size_t max_bytes) {
    Count(field, args.size(), max_args, "arguments");
    size_t bytes = 0;
    for (const auto& a : args) bytes += a.size();
    Length(field, bytes, max_bytes);
  }
  void Range(const std::string& field, int64_t value, int64_t limit, absl::string_view unit) {
    if (value > limit) {
      errors_.push_back({field, absl::StrCat(value, unit, " is above the limit of ", limit, unit)});
    }
  }

 private:
  std::vector<FieldError>& errors_;
};

void CheckContainer(const ContainerDefinition& c, const std::string& path, Checker& check) {
  check.Length(path + ".image", c.image().size(), kMaxImageReference);
  check.Arguments(path + ".command", c.command(), kMaxCommandArgs, kMaxCommandBytes);
  check.Count(path + ".environment", c.environment_size(), kMaxEnvironmentEntries, "entries");
  size_t env_bytes = 0;
  for (const auto& [key, value] : c.environment()) env_bytes += key.size() + value.size();
  check.Length(path + ".environment", env_bytes, kMaxEnvironmentBytes);
  check.Count(path + ".secrets", c.secrets_size(), kMaxSecretsPerContainer, "secrets");
  check.Range(path + ".cpu", c.cpu(), kMaxContainerCpu, "m");
  check.Range(path + ".memory", c.memory(), kMaxContainerMemory, " bytes");
  check.Count(path + ".ulimits", c.ulimits_size(), kMaxUlimits, "ulimits");
  const auto& caps = c.linux_parameters().capabilities();
  const std::string caps_path = path + ".linuxParameters.capabilities";
  check.Count(caps_path + ".add", caps.add_size(), kMaxCapabilities, "capabilities");
  check.Count(caps_path + ".drop", caps.drop_size(), kMaxCapabilities, "capabilities");
  if (c.has_health_check()) {
    const auto& h = c.health_check();
    check.Arguments(path + ".healthCheck.command", h.command(), kMaxHealthCheckArgs,
                    kMaxHealthCheckBytes);
    check.Length(path + ".healthCheck.http.path", h.http().path().size(), kMaxHttpPath);
  }
  check.Length(path + ".metrics.path", c.metrics().path().size(), kMaxHttpPath);
}

}  // namespace

void CheckTaskDefinitionBounds(const gantry::v1::TaskDefinition& td,
                               std::vector<FieldError>& errors) {
  Checker check(errors);
  check.Count("containers", td.containers_size(), kMaxContainers, "containers");
  int ports = 0;
  for (int i = 0; i < td.containers_size(); ++i) {
    CheckContainer(td.containers(i), absl::StrCat("containers[", i, "]"), check);
    ports += td.containers(i).port_mappings_size();
  }
  check.Count("containers[].portMappings", ports, kMaxPortsPerTask, "ports");
}

void CheckServiceBounds(const gantry::v1::Service& service, std::vector<FieldError>& errors) {
  Checker check(errors);
  const auto& placement = service.placement();
  check.Count("placement.strategy", placement.strategy_size(), kMaxPlacementStrategies,
              "strategies");
  check.Count("placement.constraints", placement.constraints_size(), kMaxPlacementConstraints,
              "constraints");
  if (service.has_autoscaling()) {
    const auto& a = service.autoscaling();
    check.Length("autoscaling.prometheus", a.prometheus().size(), kMaxAddress);
    check.Count("autoscaling.targetTracking", a.target_tracking_size(), kMaxScalingPolicies,
                "policies");
    for (int i = 0; i < a.target_tracking_size(); ++i) {
      check.Length(absl::StrCat("autoscaling.targetTracking[", i, "].query"),
                   a.target_tracking(i).query().size(), kMaxPromQl);
    }
    check.Count("autoscaling.stepScaling", a.step_scaling_size(), kMaxScalingPolicies, "policies");
    for (int i = 0; i < a.step_scaling_size(); ++i) {
      const std::string path = absl::StrCat("autoscaling.stepScaling[", i, "]");
      check.Length(path + ".query", a.step_scaling(i).query().size(), kMaxPromQl);
      check.Count(path + ".steps", a.step_scaling(i).steps_size(), kMaxScalingSteps, "steps");
    }
  }
  const auto& alarms = service.deployment_configuration().alarms();
  const std::string base = "deploymentConfiguration.alarms";
  check.Length(base + ".prometheus", alarms.prometheus().size(), kMaxAddress);
  check.Count(base + ".rules", alarms.rules_size(), kMaxAlarmRules, "rules");
  for (int i = 0; i < alarms.rules_size(); ++i) {
    check.Length(absl::StrCat(base, ".rules[", i, "].query"), alarms.rules(i).query().size(),
                 kMaxPromQl);
    check.Length(absl::StrCat(base, ".rules[", i, "].name"), alarms.rules(i).name().size(),
                 kMaxAlarmName);
  }
}

}  // namespace gantry::spec
