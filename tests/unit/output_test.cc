#include "ctl/output.h"

#include <gtest/gtest.h>

#include <sstream>

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

}  // namespace
}  // namespace gantry::ctl
