// `kind: Role` documents as gantryctl apply reads them (ctl/role_document.h
// through ParseSpecs): the shape, then access::ValidateRole, with file,
// document, object and field in every error.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ctl/spec_parser.h"

namespace gantry::ctl {
namespace {

using ::testing::HasSubstr;

constexpr char kScaler[] = R"(kind: Role
name: web-scaler
description: CI scales the web services
rules:
  - verbs: [get, list]
    resources: [services, tasks]
  - verbs: [scale]
    resources: [services]
    names: ["web*"]
)";

std::string Error(const std::string& yaml) {
  auto req = ParseSpecs(yaml, "roles.yaml");
  EXPECT_FALSE(req.ok());
  return std::string(req.status().message());
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(RoleDocumentTest, ReadsARole) {
  auto req = ParseSpecs(kScaler, "roles.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->roles_size(), 1);
  const auto& role = req->roles(0);
  EXPECT_EQ(role.name(), "web-scaler");
  EXPECT_EQ(role.description(), "CI scales the web services");
  ASSERT_EQ(role.rules_size(), 2);
  EXPECT_THAT(role.rules(0).verbs(), ::testing::ElementsAre("get", "list"));
  EXPECT_THAT(role.rules(0).resources(), ::testing::ElementsAre("services", "tasks"));
  EXPECT_TRUE(role.rules(0).names().empty());
  EXPECT_THAT(role.rules(1).names(), ::testing::ElementsAre("web*"));
}

TEST(RoleDocumentTest, StarsMeanAll) {
  auto req = ParseSpecs(R"(kind: Role
name: operator
rules: [{verbs: ["*"], resources: ["*"]}]
)",
                        "roles.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_THAT(req->roles(0).rules(0).verbs(), ::testing::ElementsAre("*"));
}

TEST(RoleDocumentTest, AnUnknownVerbNamesDocumentFieldAndAllowedValues) {
  const std::string yaml = std::string(
                               "kind: Service\nname: web\ntaskDefinition: web\n"
                               "desiredCount: 1\n---\n") +
                           Replace(kScaler, "[scale]", "[scael]");
  EXPECT_EQ(Error(yaml),
            "roles.yaml: document 2 (Role web-scaler): rules[1].verbs[0]: unknown verb \"scael\" "
            "(expected one of: *, get, list, apply, scale, undo, delete, update, logs, create, "
            "revoke, read, use)");
}

TEST(RoleDocumentTest, AnUnknownResourceNamesTheAllowedOnes) {
  EXPECT_THAT(Error(Replace(kScaler, "[services, tasks]", "[services, pods]")),
              HasSubstr("roles.yaml: document 1 (Role web-scaler): rules[0].resources[1]: "
                        "unknown resource \"pods\" (expected one of: *, services, "));
}

TEST(RoleDocumentTest, TokensCannotBeGranted) {
  EXPECT_THAT(Error(Replace(kScaler, "[services, tasks]", "[tokens]")),
              HasSubstr("rules[0].resources[0]: tokens are the built-in admin role's alone"));
}

TEST(RoleDocumentTest, BuiltInNamesAreRefused) {
  EXPECT_THAT(Error(Replace(kScaler, "name: web-scaler", "name: admin")),
              HasSubstr("document 1 (Role admin): name: \"admin\" is a built-in role"));
}

TEST(RoleDocumentTest, ShapeErrorsNameTheLine) {
  EXPECT_EQ(Error(Replace(kScaler, "    names:", "    name:")),
            "roles.yaml: document 1 (Role web-scaler): line 9: rules[1].name: unknown field "
            "(expected one of: names, resources, verbs)");
  EXPECT_EQ(Error(Replace(kScaler, "[scale]", "scale")),
            "roles.yaml: document 1 (Role web-scaler): line 7: rules[1].verbs: expected a list "
            "of strings, e.g. [get, list, scale]");
  EXPECT_EQ(Error("kind: Role\nname: x\nrules: {verbs: [get]}\n"),
            "roles.yaml: document 1 (Role x): line 3: rules: expected a list of {verbs, "
            "resources, names}");
  EXPECT_THAT(Error("kind: Role\nname: x\nrole: y\n"),
              HasSubstr("line 3: role: unknown field (expected one of: description, kind, name, "
                        "rules)"));
  EXPECT_THAT(Error("kind: Role\nname: x\n"), HasSubstr("(Role x): rules: required"));
}

TEST(RoleDocumentTest, UnknownKindsNameRole) {
  EXPECT_THAT(Error("kind: ClusterRole\nname: x\n"),
              HasSubstr("(expected TaskDefinition, Service, Role or NetworkAcl)"));
}

}  // namespace
}  // namespace gantry::ctl
