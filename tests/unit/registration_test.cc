// ValidateRegistration (controlplane/nodes/registration.h): every field of
// an agent's registration, good and bad, with the field-level message the
// agent gets back on its stream; and that NodeManager refuses a bad one
// before anything changes.

#include "controlplane/nodes/registration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/node_fields.h"
#include "controlplane/nodes/node_manager.h"
#include "tests/fakes/recording_connection.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::nodes {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Edit = std::function<void(gantry::v1::RegisterRequest&)>;

gantry::v1::RegisterRequest Good() {
  gantry::v1::RegisterRequest r;
  r.set_node_name("n1");
  r.set_zone("us-east-1a");
  (*r.mutable_attributes())["disk"] = "ssd";
  (*r.mutable_attributes())["example.com/rack"] = "r1";
  (*r.mutable_attributes())["gpu"] = "";
  r.set_address("10.0.0.1");
  r.set_metrics_address("10.0.0.1:7072");
  r.mutable_capacity()->set_cpu(4000);
  r.mutable_capacity()->set_memory(int64_t{8} << 30);
  r.set_port_range_start(20000);
  r.set_port_range_end(32767);
  r.set_agent_version("0.1.0");
  return r;
}

gantry::v1::RegisterRequest With(const Edit& edit) {
  auto r = Good();
  edit(r);
  return r;
}

TEST(Registration, AGoodRegistrationPasses) {
  EXPECT_TRUE(ValidateRegistration(Good()).ok()) << ValidateRegistration(Good());
  const std::vector<Edit> also_good = {
      [](auto& r) { r.set_address("fd00::1"); },
      [](auto& r) { r.set_metrics_address("[fd00::1]:7072"); },
      [](auto& r) { r.set_metrics_address("localhost:7072"); },
      [](auto& r) { r.clear_metrics_address(); },
      [](auto& r) { r.clear_attributes(); },
      [](auto& r) { r.clear_agent_version(); },
      [](auto& r) { r.set_zone("a"); },
      [](auto& r) {
        r.set_port_range_start(1);
        r.set_port_range_end(65535);
      },
      [](auto& r) {
        r.set_port_range_start(20000);
        r.set_port_range_end(20000);
      },
  };
  for (const auto& edit : also_good) {
    const auto r = With(edit);
    EXPECT_TRUE(ValidateRegistration(r).ok()) << ValidateRegistration(r) << r.DebugString();
  }
}

// Each bad value, and the field its message must name.
struct Bad {
  Edit edit;
  std::string message_start;
};

TEST(Registration, EachBadFieldIsRefusedNamingIt) {
  const std::string n1 = "registration of node \"n1\": ";
  const std::vector<Bad> bad = {
      {[](auto& r) { r.clear_node_name(); }, "registration of node \"\": node_name: must be"},
      {[](auto& r) { r.set_node_name("N1"); }, "registration of node \"N1\": node_name: must be"},
      {[](auto& r) { r.set_node_name("n1\nINFO forged"); },
       "registration of node \"n1\\nINFO forged\": node_name: must be"},
      {[](auto& r) { r.clear_zone(); }, n1 + "zone: \"\" must be"},
      {[](auto& r) { r.set_zone("us east"); }, n1 + "zone: \"us east\" must be"},
      {[](auto& r) { r.set_zone(std::string(64, 'z')); }, n1 + "zone: \"zzz"},
      {[](auto& r) { (*r.mutable_attributes())["disk type"] = "ssd"; },
       n1 + "attributes[\"disk type\"]: key must be"},
      {[](auto& r) { (*r.mutable_attributes())["-x"] = "1"; },
       n1 + "attributes[\"-x\"]: key must be"},
      {[](auto& r) { (*r.mutable_attributes())["disk"] = "fast ssd"; },
       n1 + "attributes[\"disk\"]: value \"fast ssd\" must be"},
      {[](auto& r) { (*r.mutable_attributes())["disk"] = std::string(64, 'v'); },
       n1 + "attributes[\"disk\"]: value \"vvv"},
      {[](auto& r) { r.clear_address(); }, n1 + "address: \"\" must be an IPv4 or IPv6 address"},
      {[](auto& r) { r.set_address("node-1.example.com"); },
       n1 + "address: \"node-1.example.com\" must be"},
      {[](auto& r) { r.set_address("10.0.0.1:80"); }, n1 + "address: \"10.0.0.1:80\" must be"},
      {[](auto& r) { r.set_address("10.0.0.1\n  server evil 6.6.6.6:80"); },
       n1 + "address: \"10.0.0.1\\n  server evil 6.6.6.6:80\" must be"},
      {[](auto& r) { r.set_metrics_address("10.0.0.1"); },
       n1 + "metrics_address: \"10.0.0.1\" must be HOST:PORT"},
      {[](auto& r) { r.set_metrics_address("10.0.0.1:7072\"}]"); },
       n1 + "metrics_address: \"10.0.0.1:7072\\\"}]\" must be"},
      {[](auto& r) { r.mutable_capacity()->set_cpu(0); }, n1 + "capacity: cpu and memory"},
      {[](auto& r) { r.mutable_capacity()->set_memory(-1); }, n1 + "capacity: cpu and memory"},
      {[](auto& r) { r.mutable_capacity()->set_cpu(INT64_MAX); }, n1 + "capacity: at most"},
      {[](auto& r) { r.mutable_capacity()->set_memory(INT64_MAX); }, n1 + "capacity: at most"},
      {[](auto& r) { r.set_port_range_start(0); }, n1 + "port_range: must be"},
      {[](auto& r) { r.set_port_range_end(70000); }, n1 + "port_range: must be"},
      {[](auto& r) {
         r.set_port_range_start(30000);
         r.set_port_range_end(20000);
       },
       n1 + "port_range: must be"},
      {[](auto& r) { r.set_agent_version("0.1\n"); }, n1 + "agent_version: \"0.1\\n\" must be"},
  };
  for (const auto& b : bad) {
    const auto r = With(b.edit);
    const absl::Status st = ValidateRegistration(r);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << r.DebugString();
    EXPECT_THAT(std::string(st.message()), StartsWith(b.message_start)) << r.DebugString();
    EXPECT_THAT(std::string(st.message()), Not(HasSubstr("\n"))) << "messages are one safe line";
  }
}

TEST(Registration, TheBriefsExampleMessage) {
  const auto r = With([](auto& r) { (*r.mutable_attributes())["disk type"] = "ssd"; });
  EXPECT_EQ(ValidateRegistration(r).message(),
            "registration of node \"n1\": attributes[\"disk type\"]: key must be NAME or "
            "PREFIX/NAME: NAME 1 to 63 of A-Z, a-z, 0-9, '.', '_' and '-', starting and ending "
            "with a letter or digit; PREFIX a DNS subdomain such as example.com (it holds ' ')");
}

TEST(Registration, AttributesAreBoundedInNumber) {
  auto r = Good();
  r.clear_attributes();
  for (size_t i = 0; i < kMaxNodeAttributes; ++i) {
    (*r.mutable_attributes())[absl::StrCat("k", i)] = "v";
  }
  EXPECT_TRUE(ValidateRegistration(r).ok());
  (*r.mutable_attributes())["one-more"] = "v";
  EXPECT_EQ(ValidateRegistration(r).message(),
            "registration of node \"n1\": attributes: must be at most 64 (there are 65)");
}

TEST(Registration, TheFirstBadAttributeInKeyOrderIsNamed) {
  // Map order on the wire is unspecified; the message is not.
  auto r = Good();
  (*r.mutable_attributes())["z z"] = "1";
  (*r.mutable_attributes())["a a"] = "1";
  EXPECT_THAT(ValidateRegistration(r).message(), HasSubstr("attributes[\"a a\"]"));
}

class RegistrationRefusalTest : public gantry::testing::NodesFixture {};

TEST_F(RegistrationRefusalTest, NodeManagerRefusesBeforeAnythingChanges) {
  NodeManager nodes(state_.get(), events_.get(), &clock_, NodeManager::Options());
  auto conn = std::make_shared<gantry::testing::RecordingConnection>();
  auto r = Good();
  r.set_address("10.0.0.1\n  server evil 6.6.6.6:80");
  auto* ts = r.add_tasks();
  ts->set_task_id("t1");
  ts->set_status(gantry::v1::Task::RUNNING);
  auto registered = nodes.Register(conn, r);
  ASSERT_FALSE(registered.ok());
  EXPECT_EQ(registered.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(registered.status().message()),
              StartsWith("registration of node \"n1\": address: \"10.0.0.1\\n  server evil"));
  EXPECT_FALSE(state_->GetNode("n1").has_value());
  EXPECT_FALSE(nodes.IsConnected("n1"));
  EXPECT_TRUE(conn->sent().empty()) << "no Registered, no desired set";

  r.set_address("10.0.0.1");
  ASSERT_TRUE(nodes.Register(conn, r).ok());
  EXPECT_EQ(state_->GetNode("n1")->value.address(), "10.0.0.1");
}

}  // namespace
}  // namespace gantry::nodes
