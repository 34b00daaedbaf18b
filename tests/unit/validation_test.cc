#include "common/spec/validation.h"

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "tests/unit/spec_examples.h"

namespace gantry::spec {
namespace {

using gantry::v1::Service;
using gantry::v1::TaskDefinition;

using testing::ValidTd;

std::string Fields(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.field + "|";
  return out;
}

TEST(ValidateTaskDefinition, AcceptsAValidOne) {
  EXPECT_TRUE(ValidateTaskDefinition(ValidTd()).empty());
}

TEST(ValidateTaskDefinition, NamesTheFieldOfEachProblem) {
  TaskDefinition td = ValidTd();
  td.mutable_containers(0)->set_memory(0);
  td.mutable_containers(0)->set_image("");
  (*td.mutable_containers(0)->mutable_environment())["GANTRY_X"] = "1";
  (*td.mutable_containers(0)->mutable_environment())["1BAD"] = "1";
  const auto errors = ValidateTaskDefinition(td);
  const std::string fields = Fields(errors);
  EXPECT_NE(fields.find("containers[0].memory|"), std::string::npos) << fields;
  EXPECT_NE(fields.find("containers[0].image|"), std::string::npos) << fields;
  EXPECT_NE(fields.find("containers[0].environment.GANTRY_X|"), std::string::npos) << fields;
  EXPECT_NE(fields.find("containers[0].environment.1BAD|"), std::string::npos) << fields;
}

TEST(ValidateTaskDefinition, PortsMustBeUniqueAndHostNetworked) {
  TaskDefinition td = ValidTd();
  auto* c2 = td.add_containers();
  *c2 = td.containers(0);
  c2->set_name("sidecar");
  const std::string dup = Fields(ValidateTaskDefinition(td));
  EXPECT_NE(dup.find("containers[1].portMappings[0].name"), std::string::npos) << dup;

  TaskDefinition fixed = ValidTd();
  fixed.mutable_containers(0)->mutable_port_mappings(0)->set_container_port(80);
  auto errors = ValidateTaskDefinition(fixed);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "containers[0].portMappings[0].containerPort");
  EXPECT_NE(errors[0].problem.find("GANTRY_PORT_HTTP"), std::string::npos);

  fixed.mutable_containers(0)->mutable_port_mappings(0)->set_host_port(80);
  EXPECT_TRUE(ValidateTaskDefinition(fixed).empty());
}

TEST(ValidateTaskDefinition, DuplicateContainersAndNoEssential) {
  TaskDefinition td = ValidTd();
  td.mutable_containers(0)->clear_port_mappings();
  *td.add_containers() = td.containers(0);
  td.mutable_containers(0)->set_essential(false);
  td.mutable_containers(1)->set_essential(false);
  const std::string fields = Fields(ValidateTaskDefinition(td));
  EXPECT_NE(fields.find("containers[1].name"), std::string::npos) << fields;
  EXPECT_NE(fields.find("containers|"), std::string::npos) << fields;
}

TEST(ValidateTaskDefinition, StopTimeoutBounds) {
  TaskDefinition td = ValidTd();
  *td.mutable_containers(0)->mutable_stop_timeout() = ToProtoDuration(absl::Hours(1));
  EXPECT_EQ(Fields(ValidateTaskDefinition(td)), "containers[0].stopTimeout|");
}

TEST(ApplyDefaults, EssentialAndStopTimeout) {
  TaskDefinition td = ValidTd();
  ApplyDefaults(td);
  EXPECT_TRUE(td.containers(0).essential());
  EXPECT_EQ(FromProtoDuration(td.containers(0).stop_timeout()), absl::Seconds(30));
}

TEST(ValidateService, CountsAndReferences) {
  Service s;
  s.set_name("web");
  s.set_task_definition("web:3");
  s.set_desired_count(6);
  EXPECT_TRUE(ValidateService(s).empty());
  s.set_desired_count(-1);
  auto errors = ValidateService(s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "desiredCount");
  EXPECT_EQ(errors[0].problem, "must be >= 0, got -1");
  s.set_desired_count(1);
  s.set_task_definition("web:x");
  EXPECT_EQ(Fields(ValidateService(s)), "taskDefinition|");
  s.set_task_definition("web");
  s.set_name("Web Server");
  EXPECT_EQ(Fields(ValidateService(s)), "name|");
}

TEST(ValidateTaskDefinition, HealthChecksFollowEcsBounds) {
  auto with = [](auto&& edit) {
    TaskDefinition td = ValidTd();
    auto* h = td.mutable_containers(0)->mutable_health_check();
    h->mutable_http()->set_port("http");
    h->mutable_http()->set_path("/healthz");
    *h->mutable_interval() = ToProtoDuration(absl::Seconds(30));
    *h->mutable_timeout() = ToProtoDuration(absl::Seconds(5));
    h->set_retries(3);
    edit(*h);
    return ValidateTaskDefinition(td);
  };
  EXPECT_TRUE(with([](auto&) {}).empty());
  auto errors = with([](auto& h) { *h.mutable_interval() = ToProtoDuration(absl::Seconds(4)); });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "containers[0].healthCheck.interval");
  EXPECT_EQ(errors[0].problem, "must be between 5s and 5m, got 4s");
  EXPECT_EQ(
      Fields(with([](auto& h) { *h.mutable_timeout() = ToProtoDuration(absl::Seconds(61)); })),
      "containers[0].healthCheck.timeout|");
  EXPECT_EQ(Fields(with([](auto& h) { h.set_retries(11); })), "containers[0].healthCheck.retries|");
  EXPECT_EQ(Fields(with([](auto& h) { h.mutable_http()->set_port("nosuch"); })),
            "containers[0].healthCheck.http.port|");
  EXPECT_EQ(Fields(with([](auto& h) { h.mutable_http()->set_path("healthz"); })),
            "containers[0].healthCheck.http.path|");
  EXPECT_EQ(Fields(with([](auto& h) { h.mutable_tcp()->set_port("http"); })),
            "containers[0].healthCheck|")
      << "http and tcp at once";
  EXPECT_EQ(Fields(with([](auto& h) {
              h.clear_http();
              h.add_command("CMD-SHELL");
              h.add_command("true");
              h.add_command("extra");
            })),
            "containers[0].healthCheck.command|");
  EXPECT_TRUE(with([](auto& h) {
                h.clear_http();
                h.add_command("CMD");
                h.add_command("/bin/true");
              }).empty());
}

TEST(ValidateService, DeploymentConfigurationAndLoadBalancer) {
  auto with = [](auto&& edit) {
    Service s;
    s.set_name("web");
    s.set_task_definition("web");
    s.set_desired_count(3);
    edit(s);
    return Fields(ValidateService(s));
  };
  EXPECT_EQ(with([](Service&) {}), "");
  EXPECT_EQ(with([](Service& s) {
              s.mutable_deployment_configuration()->set_minimum_healthy_percent(101);
            }),
            "deploymentConfiguration.minimumHealthyPercent|");
  EXPECT_EQ(with([](Service& s) { s.mutable_deployment_configuration()->set_maximum_percent(99); }),
            "deploymentConfiguration.maximumPercent|deploymentConfiguration.maximumPercent|");
  EXPECT_EQ(with([](Service& s) {
              s.mutable_deployment_configuration()->set_minimum_healthy_percent(50);
              s.mutable_deployment_configuration()->set_maximum_percent(100);
            }),
            "")
      << "stop first, then start: allowed below 100% minimum";
  EXPECT_EQ(with([](Service& s) { s.mutable_deployment_configuration()->set_strategy("canary"); }),
            "deploymentConfiguration.strategy|");
  EXPECT_EQ(
      with([](Service& s) { s.mutable_deployment_configuration()->set_strategy("blueGreen"); }),
      "deploymentConfiguration.strategy|")
      << "blue-green needs a load balancer";
  EXPECT_EQ(
      with([](Service& s) {
        auto* tr = s.mutable_deployment_configuration()->mutable_traffic();
        tr->set_type("linear");
        tr->set_step_percent(0);
      }),
      "deploymentConfiguration.traffic.stepPercent|deploymentConfiguration.traffic.interval|");
  EXPECT_EQ(with([](Service& s) {
              auto* tr = s.mutable_deployment_configuration()->mutable_traffic();
              tr->set_type("canary");
              tr->set_percent(10);
              *tr->mutable_interval() = ToProtoDuration(absl::Seconds(30));
            }),
            "");
  auto lb = [](Service& s, uint32_t port, const std::string& target, uint32_t test) {
    s.mutable_load_balancer()->set_port(port);
    s.mutable_load_balancer()->set_target_port(target);
    s.mutable_load_balancer()->set_test_port(test);
  };
  EXPECT_EQ(with([&](Service& s) { lb(s, 8080, "http", 8081); }), "");
  EXPECT_EQ(with([&](Service& s) { lb(s, 0, "http", 0); }), "loadBalancer.port|");
  EXPECT_EQ(with([&](Service& s) { lb(s, 8080, "", 0); }), "loadBalancer.targetPort|");
  EXPECT_EQ(with([&](Service& s) { lb(s, 8080, "http", 8080); }), "loadBalancer.testPort|");
  EXPECT_EQ(with([&](Service& s) {
              lb(s, 8080, "http", 0);
              s.mutable_deployment_configuration()->set_strategy("blueGreen");
            }),
            "loadBalancer.testPort|");
}

TEST(ValidateService, PlacementErrorsNameTheField) {
  Service s;
  s.set_name("web");
  s.set_task_definition("web");
  s.mutable_placement()->add_strategy()->set_type("pack");
  auto errors = ValidateService(s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "placement.strategy[0].type");
  s.clear_placement();
  auto* c = s.mutable_placement()->add_constraints();
  c->set_type("memberOf");
  c->set_expression("zone in [a b]");
  errors = ValidateService(s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "placement.constraints[0].expression");
  EXPECT_EQ(errors[0].problem, "position 12: expected , or ] (found \"b\")");
  c->set_expression("zone in [a, b]");
  EXPECT_TRUE(ValidateService(s).empty());
}

TEST(ParseTaskDefinitionRef, FamilyAndRevision) {
  auto r = ParseTaskDefinitionRef("web:3");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->family, "web");
  EXPECT_EQ(r->revision, 3);
  EXPECT_EQ(ParseTaskDefinitionRef("web")->revision, 0);
  EXPECT_FALSE(ParseTaskDefinitionRef("web:0").ok());
  EXPECT_FALSE(ParseTaskDefinitionRef(":1").ok());
}

TEST(ErrorsToStatus, JoinsWithContext) {
  auto st = ErrorsToStatus("Service web", {{"desiredCount", "must be >= 0, got -1"}});
  EXPECT_EQ(st.message(), "Service web: desiredCount: must be >= 0, got -1");
  EXPECT_TRUE(ErrorsToStatus("x", {}).ok());
}

}  // namespace
}  // namespace gantry::spec

namespace gantry::spec {
namespace {

TEST(ValidateTaskDefinition, ImagesAndPullPolicy) {
  TaskDefinition td = ValidTd();
  td.mutable_containers(0)->set_image("Bad/Image");
  td.mutable_containers(0)->set_pull_policy("sometimes");
  const std::string fields = Fields(ValidateTaskDefinition(td));
  EXPECT_NE(fields.find("containers[0].image|"), std::string::npos) << fields;
  EXPECT_NE(fields.find("containers[0].pullPolicy|"), std::string::npos) << fields;
  td = ValidTd();
  td.mutable_containers(0)->set_pull_policy("always");
  EXPECT_TRUE(ValidateTaskDefinition(td).empty());
}

TEST(ValidateTaskDefinition, NetworkModes) {
  TaskDefinition td = ValidTd();
  td.set_network_mode("bridge");
  EXPECT_EQ(Fields(ValidateTaskDefinition(td)), "networkMode|");
  EXPECT_EQ(NetworkModeOf(ValidTd()), "host") << "stored before task networking";
  TaskDefinition defaulted = ValidTd();
  ApplyDefaults(defaulted);
  EXPECT_EQ(defaulted.network_mode(), "task") << "what a new definition gets";
  // With its own network a task maps any container port to its host port.
  td.set_network_mode("task");
  td.mutable_containers(0)->mutable_port_mappings(0)->set_container_port(8080);
  EXPECT_TRUE(ValidateTaskDefinition(td).empty());
  td.set_network_mode("host");
  EXPECT_EQ(Fields(ValidateTaskDefinition(td)), "containers[0].portMappings[0].containerPort|");
}

}  // namespace
}  // namespace gantry::spec
