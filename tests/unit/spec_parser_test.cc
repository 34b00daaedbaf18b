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
