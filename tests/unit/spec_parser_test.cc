#include "ctl/spec_parser.h"

#include <gtest/gtest.h>

namespace gantry::ctl {
namespace {

constexpr char kWeb[] = R"(kind: TaskDefinition
family: web
containers:
  - name: httpd
    image: example.org/demo/busybox:1
    command: ["/bin/sh", "-c", "exec httpd -f -p $GANTRY_PORT_HTTP -h /www"]
    cpu: 100m
    memory: 32Mi
    environment: {GREETING: hello}
    stopTimeout: 5s
    portMappings: [{name: http, containerPort: 0, hostPort: 0}]
---
kind: Service
name: web
taskDefinition: web
desiredCount: 6
)";

TEST(ParseSpecs, ReadsTheIssueExample) {
  auto req = ParseSpecs(kWeb, "web.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->task_definitions_size(), 1);
  ASSERT_EQ(req->services_size(), 1);
  const auto& c = req->task_definitions(0).containers(0);
  EXPECT_EQ(c.cpu(), 100);
  EXPECT_EQ(c.memory(), 32 << 20);
  EXPECT_EQ(c.command_size(), 3);
  EXPECT_EQ(c.environment().at("GREETING"), "hello");
  EXPECT_EQ(c.stop_timeout().seconds(), 5);
  EXPECT_TRUE(c.essential());
  EXPECT_EQ(req->services(0).desired_count(), 6);
}

// Found by tests/fuzz/spec_fuzz: a complex key (`? ...`) made yaml-cpp throw
// out of the parser and ended gantryctl.
TEST(ParseSpecs, ANodeOfTheWrongShapeIsAnErrorNotACrash) {
  auto req = ParseSpecs("kind: TaskDefinition\n? [a, b]\n: c\n", "odd.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().message().substr(0, 20), "odd.yaml: document 1");
  EXPECT_FALSE(ParseSpecs(std::string(30000, '[') + std::string(30000, ']'), "deep.yaml").ok());
}

TEST(ParseSpecs, NamesFileDocumentObjectAndField) {
  std::string bad = kWeb;
  bad.replace(bad.find("desiredCount: 6"), 15, "desiredCount: -1");
  auto req = ParseSpecs(bad, "web.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().message(),
            "web.yaml: document 2 (Service web): desiredCount: must be >= 0, got -1");
}

TEST(ParseSpecs, UnknownFieldsAreErrors) {
  std::string bad = kWeb;
  bad.replace(bad.find("    cpu: 100m"), 13, "    cpus: 100m");
  auto req = ParseSpecs(bad, "web.yaml");
  ASSERT_FALSE(req.ok());
  const std::string msg(req.status().message());
  EXPECT_NE(msg.find("web.yaml: document 1 (TaskDefinition web): line 7: containers[0].cpus: "
                     "unknown field"),
            std::string::npos)
      << msg;
}

TEST(ParseSpecs, AnUnknownTopLevelFieldNamesItsObject) {
  std::string bad = kWeb;
  bad.replace(bad.find("desiredCount: 6"), 15, "desiredcount: 6");
  auto req = ParseSpecs(bad, "web.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_NE(std::string(req.status().message())
                .find("web.yaml: document 2 (Service web): line 16: desiredcount: unknown field"),
            std::string::npos)
      << req.status();
}

TEST(ParseSpecs, BadQuantitiesAndKinds) {
  std::string bad = kWeb;
  bad.replace(bad.find("memory: 32Mi"), 12, "memory: lots");
  auto req = ParseSpecs(bad, "f.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_NE(std::string(req.status().message()).find("containers[0].memory: invalid memory"),
            std::string::npos)
      << req.status();

  req = ParseSpecs("kind: Deployment\nname: x\n", "f.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_NE(std::string(req.status().message()).find("unknown kind \"Deployment\""),
            std::string::npos);

  req = ParseSpecs("name: x\n", "f.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_NE(std::string(req.status().message()).find("kind: required"), std::string::npos);
}

TEST(ParseSpecs, InvalidYamlAndEmptyFiles) {
  auto req = ParseSpecs("kind: [unclosed\n", "f.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_NE(std::string(req.status().message()).find("f.yaml: line"), std::string::npos);
  EXPECT_FALSE(ParseSpecs("", "f.yaml").ok());
  EXPECT_FALSE(ParseSpecFile("/nonexistent/web.yaml").ok());
}

TEST(ParseSpecs, SemanticValidationRunsToo) {
  std::string bad = kWeb;
  bad.replace(bad.find("memory: 32Mi"), 12, "memory: 1Mi");
  auto req = ParseSpecs(bad, "web.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().message(),
            "web.yaml: document 1 (TaskDefinition web): containers[0].memory: must be at least "
            "4Mi, got 1Mi");
}

}  // namespace
}  // namespace gantry::ctl

namespace gantry::ctl {
namespace {

TEST(ParseSpecs, PullPolicyAndPinning) {
  std::string text = kWeb;
  text.replace(text.find("    cpu: 100m"), 13,
               "    pullPolicy: always\n    pinDigest: false\n    cpu: 100m");
  auto req = ParseSpecs(text, "web.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->task_definitions(0).containers(0).pull_policy(), "always");
  EXPECT_FALSE(req->task_definitions(0).containers(0).pin_digest());
}

}  // namespace
}  // namespace gantry::ctl

namespace gantry::ctl {
namespace {

constexpr char kScaled[] = R"(kind: TaskDefinition
family: web
containers:
  - name: httpd
    image: example.org/demo/busybox:1
    memory: 32Mi
    portMappings: [{name: http}]
    metrics: {port: http, path: /stats}
---
kind: Service
name: web
taskDefinition: web
desiredCount: 2
deploymentConfiguration:
  bakeTime: 1m
  alarms:
    prometheus: http://127.0.0.1:9090
    rules:
      - {name: errors, query: 'rate(errors_total[1m]) > 1'}
autoscaling:
  minCount: 2
  maxCount: 20
  prometheus: {address: http://127.0.0.1:9090}
  targetTracking:
    - query: 'sum(rate(http_requests_total{service="web"}[1m])) / scalar(count(up{service="web"}))'
      target: 100
  stepScaling:
    - query: 'max(queue_depth{service="worker"})'
      steps: [{above: 1000, adjust: +2}, {above: 5000, adjust: +5}, {below: 10, adjust: -1}]
  scaleOutCooldown: 30s
  scaleInCooldown: 300s
  disableScaleIn: false
)";

TEST(ParseSpecs, AutoscalingAlarmsAndMetrics) {
  auto req = ParseSpecs(kScaled, "web.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  const auto& c = req->task_definitions(0).containers(0);
  EXPECT_EQ(c.metrics().port(), "http");
  EXPECT_EQ(c.metrics().path(), "/stats");
  const auto& s = req->services(0);
  const auto& a = s.autoscaling();
  EXPECT_EQ(a.min_count(), 2);
  EXPECT_EQ(a.max_count(), 20);
  EXPECT_EQ(a.prometheus(), "http://127.0.0.1:9090");
  ASSERT_EQ(a.target_tracking_size(), 1);
  EXPECT_EQ(a.target_tracking(0).target(), 100);
  ASSERT_EQ(a.step_scaling_size(), 1);
  ASSERT_EQ(a.step_scaling(0).steps_size(), 3);
  EXPECT_EQ(a.step_scaling(0).steps(0).above(), 1000);
  EXPECT_EQ(a.step_scaling(0).steps(0).adjust(), 2);
  EXPECT_FALSE(a.step_scaling(0).steps(2).has_above());
  EXPECT_EQ(a.step_scaling(0).steps(2).below(), 10);
  EXPECT_EQ(a.step_scaling(0).steps(2).adjust(), -1);
  EXPECT_EQ(a.scale_in_cooldown().seconds(), 300);
  const auto& alarms = s.deployment_configuration().alarms();
  EXPECT_EQ(alarms.prometheus(), "http://127.0.0.1:9090");
  ASSERT_EQ(alarms.rules_size(), 1);
  EXPECT_EQ(alarms.rules(0).name(), "errors");
}

TEST(ParseSpecs, HealthChecksDeploymentsAndLoadBalancers) {
  std::string text = kWeb;
  text.replace(text.find("    portMappings"), 0,
               "    healthCheck: {http: {port: http, path: /healthz}, interval: 10s, timeout: 3s, "
               "retries: 2, startPeriod: 20s}\n");
  text += R"(loadBalancer: {port: 8080, targetPort: http, testPort: 8081, deregistrationDelay: 5s}
deploymentConfiguration:
  strategy: blueGreen
  minimumHealthyPercent: 50
  maximumPercent: 150
  circuitBreaker: {enable: true, rollback: false, threshold: 4}
  traffic: {type: canary, percent: 10, interval: 1m}
  bakeTime: 2m
)";
  auto req = ParseSpecs(text, "web.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  const auto& h = req->task_definitions(0).containers(0).health_check();
  EXPECT_EQ(h.http().port(), "http");
  EXPECT_EQ(h.http().path(), "/healthz");
  EXPECT_EQ(h.interval().seconds(), 10);
  EXPECT_EQ(h.timeout().seconds(), 3);
  EXPECT_EQ(h.retries(), 2);
  EXPECT_EQ(h.start_period().seconds(), 20);
  const auto& s = req->services(0);
  EXPECT_EQ(s.load_balancer().port(), 8080u);
  EXPECT_EQ(s.load_balancer().test_port(), 8081u);
  EXPECT_EQ(s.load_balancer().deregistration_delay().seconds(), 5);
  const auto& dc = s.deployment_configuration();
  EXPECT_EQ(dc.strategy(), "blueGreen");
  EXPECT_EQ(dc.minimum_healthy_percent(), 50);
  EXPECT_EQ(dc.maximum_percent(), 150);
  EXPECT_FALSE(dc.circuit_breaker().rollback());
  EXPECT_EQ(dc.circuit_breaker().threshold(), 4);
  EXPECT_EQ(dc.traffic().type(), "canary");
  EXPECT_EQ(dc.traffic().percent(), 10);
  EXPECT_EQ(dc.traffic().interval().seconds(), 60);
  EXPECT_EQ(dc.bake_time().seconds(), 120);
  // A bad duration names its field.
  text.replace(text.find("bakeTime: 2m"), 12, "bakeTime: soon");
  req = ParseSpecs(text, "web.yaml");
  ASSERT_FALSE(req.ok());
  EXPECT_NE(req.status().message().find("deploymentConfiguration.bakeTime"), std::string::npos)
      << req.status();
}

TEST(ParseSpecs, PlacementMustBeLists) {
  auto parse = [](const std::string& placement) {
    auto req = ParseSpecs(std::string(kWeb) + placement, "web.yaml");
    return req.ok() ? std::string("ok") : std::string(req.status().message());
  };
  EXPECT_EQ(parse("placement:\n  strategy: [{type: binpack, field: memory}]\n"), "ok");
  EXPECT_EQ(parse("placement:\n  strategy: {type: binpack, field: memory}\n"),
            "web.yaml: document 2 (Service web): line 18: placement.strategy: expected a list of "
            "{type, field}");
  EXPECT_EQ(parse("placement:\n  constraints: {type: distinctInstance}\n"),
            "web.yaml: document 2 (Service web): line 18: placement.constraints: expected a list "
            "of {type, expression}");
}

TEST(ParseSpecs, AutoscalingErrorsNameTheField) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string text = kScaled;
    text.replace(text.find(from), from.size(), to);
    auto req = ParseSpecs(text, "web.yaml");
    EXPECT_FALSE(req.ok()) << to;
    return req.ok() ? std::string() : std::string(req.status().message());
  };
  EXPECT_EQ(with("minCount: 2", "minCount: 30"),
            "web.yaml: document 2 (Service web): autoscaling.minCount: must not exceed maxCount "
            "(20), got 30");
  EXPECT_EQ(with("target: 100", "target: 0"),
            "web.yaml: document 2 (Service web): autoscaling.targetTracking[0].target: must be > "
            "0, got 0");
  EXPECT_EQ(with("target: 100", "target: lots"),
            "web.yaml: document 2 (Service web): line 26: autoscaling.targetTracking[0].target: "
            "expected a number, got "
            "\"lots\"");
  EXPECT_EQ(with("{below: 10, adjust: -1}", "{below: 10, above: 3, adjust: -1}"),
            "web.yaml: document 2 (Service web): autoscaling.stepScaling[0].steps[2]: needs "
            "exactly one of above or below");
  EXPECT_EQ(with("{address: http://127.0.0.1:9090}", "127.0.0.1:9090"),
            "web.yaml: document 2 (Service web): autoscaling.prometheus: \"127.0.0.1:9090\": "
            "expected an http:// or https:// address");
  EXPECT_EQ(with("scaleInCooldown: 300s", "scaleInColdown: 300s"),
            "web.yaml: document 2 (Service web): line 31: autoscaling.scaleInColdown: unknown "
            "field (expected one of: "
            "disableScaleIn, maxCount, minCount, prometheus, scaleInCooldown, scaleInWindow, "
            "scaleOutCooldown, stepScaling, targetTracking)");
  EXPECT_EQ(with("metrics: {port: http, path: /stats}", "metrics: {port: web}"),
            "web.yaml: document 1 (TaskDefinition web): containers[0].metrics.port: \"web\" is "
            "not the name of a port of this task");
  EXPECT_EQ(with("{name: errors, query: 'rate(errors_total[1m]) > 1'}", "{name: errors}"),
            "web.yaml: document 2 (Service web): deploymentConfiguration.alarms.rules[0].query: "
            "required: a PromQL expression that returns no series while all is well");
}

}  // namespace
}  // namespace gantry::ctl
