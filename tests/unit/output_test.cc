#include "ctl/output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/time_util.h"

namespace gantry::ctl {
namespace {

TEST(Output, JsonUsesLowerCamelCase) {
  gantry::v1::Service s;
  s.set_name("web");
  s.set_desired_count(3);
  s.set_resolved_task_definition("web:2");
  const std::string json = ToJson(s);
  EXPECT_NE(json.find("\"desiredCount\": 3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"resolvedTaskDefinition\": \"web:2\""), std::string::npos) << json;
  const std::string yaml = ToYaml(s);
  EXPECT_NE(yaml.find("desiredCount: 3"), std::string::npos) << yaml;
}

TEST(Output, TaskTableShowsWhereToConnect) {
  gantry::v1::Task t;
  t.set_id("0123456789abcdef0123456789abcdef");
  t.set_service("web");
  t.set_node("n1");
  t.set_desired_status(gantry::v1::Task::RUNNING);
  t.set_last_status(gantry::v1::Task::PENDING);
  auto* p = t.add_ports();
  p->set_host_address("10.0.0.2");
  p->set_host_port(20001);
  std::ostringstream out;
  PrintTasks(out, {t}, absl::Now());
  EXPECT_NE(out.str().find("0123456789ab "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("10.0.0.2:20001"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("PENDING"), std::string::npos);
}

TEST(Output, FormatsAreValidated) {
  EXPECT_TRUE(ParseFormat("yaml").ok());
  EXPECT_FALSE(ParseFormat("xml").ok());
}

TEST(Output, DescribeServiceShowsItsPlacement) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  gantry::v1::Service s;
  s.set_name("web");
  {
    std::ostringstream out;
    DescribeService(out, s, {}, {}, now);
    EXPECT_NE(out.str().find("spread(zone), spread(node); zone rebalancing on"), std::string::npos)
        << out.str();
  }
  auto* st = s.mutable_placement()->add_strategy();
  st->set_type("binpack");
  st->set_field("memory");
  s.mutable_placement()->add_constraints()->set_type("distinctInstance");
  auto* c = s.mutable_placement()->add_constraints();
  c->set_type("memberOf");
  c->set_expression("zone in [a, b]");
  s.set_zone_rebalancing(false);
  std::ostringstream out;
  DescribeService(out, s, {}, {}, now);
  EXPECT_NE(out.str().find("binpack(memory); distinctInstance, memberOf(zone in [a, b]); zone "
                           "rebalancing off"),
            std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace gantry::ctl

namespace gantry::ctl {
namespace {

gantry::v1::Service Autoscaled(absl::Time now) {
  gantry::v1::Service s;
  s.set_name("web");
  s.set_desired_count(6);
  s.set_running_count(5);
  auto* a = s.mutable_autoscaling();
  a->set_min_count(2);
  a->set_max_count(20);
  a->set_prometheus("http://127.0.0.1:9090");
  a->add_target_tracking()->set_query("avg(load)");
  a->mutable_target_tracking(0)->set_target(100);
  auto* st = s.mutable_autoscaling_status();
  *st->mutable_last_evaluated() = ToProtoTime(now - absl::Seconds(4));
  *st->mutable_last_scale_out() = ToProtoTime(now - absl::Seconds(60));
  auto* v = st->add_values();
  v->set_query("avg(load)");
  v->set_value(300);
  v->set_recommendation(6);
  st->set_last_decision("scale out 2 -> 6: `avg(load)` = 300 (target 100) -> 6");
  return s;
}

TEST(Output, AutoscalingTableShowsValuesAndDecisions) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  std::ostringstream out;
  PrintAutoscaling(out, {Autoscaled(now)}, now);
  const std::string text = out.str();
  EXPECT_NE(text.find("SERVICE"), std::string::npos) << text;
  EXPECT_NE(text.find("300 -> 6"), std::string::npos) << text;
  EXPECT_NE(text.find("scale out 2 -> 6"), std::string::npos) << text;
  EXPECT_NE(text.find("4s ago"), std::string::npos) << text;
}

TEST(Output, DescribeServiceShowsAutoscaling) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  std::ostringstream out;
  DescribeService(out, Autoscaled(now), {}, {}, now);
  const std::string text = out.str();
  EXPECT_NE(text.find("Autoscaling:"), std::string::npos) << text;
  EXPECT_NE(text.find("2..20 tasks"), std::string::npos) << text;
  EXPECT_NE(text.find("target 100"), std::string::npos) << text;
  EXPECT_NE(text.find("Last scale-out:"), std::string::npos) << text;
  EXPECT_NE(text.find("scale-in 5m"), std::string::npos) << text;
}

TEST(Output, RolesTableHasALinePerRule) {
  gantry::v1::Role admin;
  admin.set_name("admin");
  admin.set_built_in(true);
  admin.set_description("everything");
  auto* all = admin.add_rules();
  all->add_verbs("*");
  all->add_resources("*");
  gantry::v1::Role scaler;
  scaler.set_name("web-scaler");
  for (const char* verb : {"get", "scale"}) {
    auto* rule = scaler.add_rules();
    rule->add_verbs(verb);
    rule->add_resources("services");
    if (std::string(verb) == "scale") rule->add_names("web*");
  }
  std::ostringstream out;
  PrintRoles(out, {admin, scaler});
  std::vector<std::string> lines;
  for (auto line : absl::StrSplit(out.str(), '\n', absl::SkipEmpty())) {
    lines.emplace_back(absl::StripTrailingAsciiWhitespace(line));
  }
  EXPECT_THAT(lines, ::testing::ElementsAre(
                         "NAME         BUILT-IN   VERBS   RESOURCES   NAMES   DESCRIPTION",
                         "admin        yes        *       *           *       everything",
                         "web-scaler   no         get     services    *",
                         "                        scale   services    web*"));
}

}  // namespace
}  // namespace gantry::ctl
