#include "common/spec/bounds.h"

#include <gtest/gtest.h>

#include "common/placement/expression.h"
#include "common/spec/validation.h"
#include "tests/unit/spec_examples.h"

namespace gantry::spec {
namespace {

using gantry::v1::Service;
using gantry::v1::TaskDefinition;

using testing::ValidTd;

Service ValidService() {
  Service s;
  s.set_name("web");
  s.set_task_definition("web");
  s.set_desired_count(1);
  return s;
}

// The one problem reported for `field`, or "" when there is none.
std::string ProblemOf(const std::vector<FieldError>& errors, const std::string& field) {
  for (const auto& e : errors) {
    if (e.field == field) return e.problem;
  }
  return "";
}

TEST(Bounds, ValidDefinitionsAreWithinEveryLimit) {
  EXPECT_TRUE(ValidateTaskDefinition(ValidTd()).empty());
  EXPECT_TRUE(ValidateService(ValidService()).empty());
}

TEST(Bounds, ContainersPerTask) {
  TaskDefinition td = ValidTd();
  for (int i = 1; i < kMaxContainers; ++i) {
    *td.add_containers() = td.containers(0);
    td.mutable_containers(i)->set_name("c" + std::to_string(i));
  }
  EXPECT_EQ(ProblemOf(ValidateTaskDefinition(td), "containers"), "");
  *td.add_containers() = td.containers(0);
  td.mutable_containers(kMaxContainers)->set_name("one-too-many");
  EXPECT_EQ(ProblemOf(ValidateTaskDefinition(td), "containers"),
            "11 containers is more than the limit of 10");
}

TEST(Bounds, EnvironmentEntriesAndBytes) {
  TaskDefinition td = ValidTd();
  auto& env = *td.mutable_containers(0)->mutable_environment();
  for (int i = 0; i <= kMaxEnvironmentEntries; ++i) env["V" + std::to_string(i)] = "x";
  EXPECT_EQ(ProblemOf(ValidateTaskDefinition(td), "containers[0].environment"),
            "513 entries is more than the limit of 512");

  TaskDefinition big = ValidTd();
  (*big.mutable_containers(0)->mutable_environment())["BIG"] =
      std::string(kMaxEnvironmentBytes, 'x');
  EXPECT_EQ(ProblemOf(ValidateTaskDefinition(big), "containers[0].environment"),
            "65539 bytes is longer than the limit of 65536");
}

TEST(Bounds, CommandArgumentsAndHealthCheckStrings) {
  TaskDefinition td = ValidTd();
  auto* c = td.mutable_containers(0);
  for (int i = 0; i <= kMaxCommandArgs; ++i) c->add_command("a");
  c->mutable_health_check()->add_command("CMD-SHELL");
  c->mutable_health_check()->add_command(std::string(kMaxHealthCheckBytes, 'x'));
  const auto errors = ValidateTaskDefinition(td);
  EXPECT_EQ(ProblemOf(errors, "containers[0].command"),
            "513 arguments is more than the limit of 512");
  EXPECT_EQ(ProblemOf(errors, "containers[0].healthCheck.command"),
            "4105 bytes is longer than the limit of 4096");
}

TEST(Bounds, CpuAndMemoryCannotOverflowWhenSummed) {
  TaskDefinition td = ValidTd();
  td.mutable_containers(0)->set_cpu(INT64_MAX);
  td.mutable_containers(0)->set_memory(INT64_MAX);
  const auto errors = ValidateTaskDefinition(td);
  EXPECT_NE(ProblemOf(errors, "containers[0].cpu").find("above the limit of 1024000m"),
            std::string::npos);
  EXPECT_NE(ProblemOf(errors, "containers[0].memory").find("above the limit"), std::string::npos);
  // The largest task a node can be asked for, ten thousand times over,
  // still sums within int64.
  EXPECT_LT(kMaxContainerMemory * kMaxContainers, INT64_MAX / 10000);
  EXPECT_LT(kMaxContainerCpu * kMaxContainers, INT64_MAX / 10000);
}

TEST(Bounds, PromQlRulesAndConstraintsPerService) {
  Service s = ValidService();
  auto* a = s.mutable_autoscaling();
  a->set_max_count(3);
  a->set_prometheus("http://127.0.0.1:9090");
  auto* t = a->add_target_tracking();
  t->set_query(std::string(kMaxPromQl + 1, 'x'));
  t->set_target(1);
  auto* alarms = s.mutable_deployment_configuration()->mutable_alarms();
  alarms->set_prometheus("http://127.0.0.1:9090");
  for (int i = 0; i <= kMaxAlarmRules; ++i) {
    auto* r = alarms->add_rules();
    r->set_name("r" + std::to_string(i));
    r->set_query("up == 0");
  }
  for (int i = 0; i <= kMaxPlacementConstraints; ++i) {
    auto* c = s.mutable_placement()->add_constraints();
    c->set_type("distinctInstance");
  }
  const auto errors = ValidateService(s);
  EXPECT_EQ(ProblemOf(errors, "autoscaling.targetTracking[0].query"),
            "4097 bytes is longer than the limit of 4096");
  EXPECT_EQ(ProblemOf(errors, "deploymentConfiguration.alarms.rules"),
            "21 rules is more than the limit of 20");
  EXPECT_EQ(ProblemOf(errors, "placement.constraints"),
            "11 constraints is more than the limit of 10");
}

TEST(Bounds, MemberOfNestingIsLimitedNotAStackOverflow) {
  // A few hundred thousand parentheses once overflowed the serving
  // thread's stack; the parser now stops at the depth limit.
  const std::string deep = std::string(300000, '(') + "zone == a" + std::string(300000, ')');
  auto too_long = scheduler::Expression::Parse(deep);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().message(), "600009 characters is longer than the limit of 2048");

  const std::string nested = std::string(40, '(') + "zone == a" + std::string(40, ')');
  auto too_deep = scheduler::Expression::Parse(nested);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.status().message(),
            "position 33: nested deeper than the limit of 32 (found \"(\")");

  std::string nots;
  for (int i = 0; i < 40; ++i) nots += "not ";
  EXPECT_FALSE(scheduler::Expression::Parse(nots + "zone == a").ok());

  const std::string fits = std::string(32, '(') + "zone == a" + std::string(32, ')');
  EXPECT_TRUE(scheduler::Expression::Parse(fits).ok());

  // A long flat chain within the length limit parses and matches.
  std::string chain = "zone == z0";
  for (int i = 1; chain.size() < scheduler::kMaxExpressionLength - 20; ++i) {
    chain += " or zone == z" + std::to_string(i);
  }
  auto flat = scheduler::Expression::Parse(chain);
  ASSERT_TRUE(flat.ok()) << flat.status();
  const std::string zone = "z1";
  EXPECT_TRUE(flat->Matches({.zone = &zone}));
}

}  // namespace
}  // namespace gantry::spec
