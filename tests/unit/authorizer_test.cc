#include "controlplane/identity/authorizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace gantry::identity {
namespace {

using ::testing::HasSubstr;

const std::vector<Verb> kAllVerbs = {Verb::kGet,    Verb::kList,   Verb::kApply,  Verb::kScale,
                                     Verb::kUndo,   Verb::kDelete, Verb::kUpdate, Verb::kLogs,
                                     Verb::kCreate, Verb::kRevoke, Verb::kRead};
const std::vector<std::string> kAllResources = {"services", "taskdefinitions", "tasks",     "nodes",
                                                "events",   "images",          "endpoints", "roles",
                                                "tokens",   "jointokens",      "secrets"};

Identity Token(const std::string& name, const std::string& role, const std::string& services = "") {
  Identity who;
  who.kind = Identity::Kind::kOperatorToken;
  who.name = name;
  who.accessor = "0123456789ab";
  who.role = role;
  who.services = services;
  return who;
}

bool IsClusterObject(const std::string& resource) {
  return resource != "tokens" && resource != "jointokens";
}

// The roles as the header's contract states them, written out again so that
// the table below checks the implementation against the prose.
bool Expected(const std::string& role, Verb verb, const std::string& resource) {
  const bool read = verb == Verb::kGet || verb == Verb::kList;
  if (role == "admin") return true;
  if (role == "viewer") return read && IsClusterObject(resource);
  if (role == "lb") return verb == Verb::kList && resource == "endpoints";
  if (role == "deployer") {
    if (read) return IsClusterObject(resource);
    const bool change =
        verb == Verb::kApply || verb == Verb::kScale || verb == Verb::kUndo || verb == Verb::kLogs;
    if (resource == "secrets") {
      return verb == Verb::kApply || verb == Verb::kCreate || verb == Verb::kUpdate;
    }
    return change && (resource == "services" || resource == "taskdefinitions");
  }
  return false;
}

TEST(AuthorizerTest, DecisionTableForEveryRoleVerbAndResource) {
  Authorizer authz;
  for (const std::string role : {"admin", "deployer", "viewer", "lb"}) {
    for (Verb verb : kAllVerbs) {
      for (const auto& resource : kAllResources) {
        for (const std::string name : {"", "web"}) {
          const Permission what{verb, resource, name};
          const absl::Status st = authz.Check(Token("t", role), what);
          EXPECT_EQ(st.ok(), Expected(role, verb, resource))
              << role << " " << VerbName(verb) << " " << resource << " '" << name << "': " << st;
          if (!st.ok()) {
            EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
          }
        }
      }
    }
  }
}

TEST(AuthorizerTest, SpotChecks) {
  Authorizer authz;
  struct Row {
    std::string role;
    Verb verb;
    std::string resource;
    std::string name;
    bool allowed;
  };
  const std::vector<Row> rows = {
      {"admin", Verb::kCreate, "tokens", "", true},
      {"admin", Verb::kRevoke, "tokens", "0123456789ab", true},
      {"admin", Verb::kDelete, "nodes", "n1", true},
      {"deployer", Verb::kApply, "services", "web", true},
      // Secrets: a deployer writes and references its own, reads metadata,
      // never a value; only admin reads one.
      {"deployer", Verb::kCreate, "secrets", "web-db", true},
      {"deployer", Verb::kApply, "secrets", "web-db", true},
      {"deployer", Verb::kList, "secrets", "", true},
      {"deployer", Verb::kRead, "secrets", "web-db", false},
      {"viewer", Verb::kGet, "secrets", "web-db", true},
      {"viewer", Verb::kRead, "secrets", "web-db", false},
      {"viewer", Verb::kCreate, "secrets", "web-db", false},
      {"admin", Verb::kRead, "secrets", "web-db", true},
      {"deployer", Verb::kApply, "taskdefinitions", "web", true},
      {"deployer", Verb::kLogs, "services", "web", true},
      {"deployer", Verb::kDelete, "services", "web", false},
      {"deployer", Verb::kScale, "nodes", "n1", false},
      {"deployer", Verb::kList, "tokens", "", false},
      {"deployer", Verb::kCreate, "jointokens", "", false},
      {"deployer", Verb::kGet, "nodes", "n1", true},
      {"viewer", Verb::kApply, "services", "web", false},
      {"viewer", Verb::kLogs, "services", "web", false},
      {"viewer", Verb::kList, "events", "", true},
      {"viewer", Verb::kGet, "tasks", "abc", true},
      {"viewer", Verb::kList, "tokens", "", false},
      {"viewer", Verb::kList, "roles", "", true},
      {"viewer", Verb::kDelete, "roles", "ops", false},
      {"deployer", Verb::kApply, "roles", "ops", false},
      {"admin", Verb::kApply, "roles", "ops", true},
      {"viewer", Verb::kList, "networkacls", "", true},
      {"deployer", Verb::kApply, "networkacls", "base", false},
      {"deployer", Verb::kDelete, "networkacls", "base", false},
      {"admin", Verb::kApply, "networkacls", "base", true},
      {"lb", Verb::kList, "endpoints", "", true},
      {"lb", Verb::kGet, "endpoints", "web", false},
      {"lb", Verb::kList, "services", "", false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(authz.Allowed(Token("t", r.role), {r.verb, r.resource, r.name}), r.allowed)
        << r.role << " " << VerbName(r.verb) << " " << r.resource << " " << r.name;
  }
}

TEST(AuthorizerTest, DeployerIsLimitedToItsServicesGlob) {
  Authorizer authz;
  const Identity ci = Token("ci-web", "deployer", "web*");
  EXPECT_TRUE(authz.Allowed(ci, {Verb::kScale, "services", "web"}));
  EXPECT_TRUE(authz.Allowed(ci, {Verb::kScale, "services", "web-api"}));
  EXPECT_TRUE(authz.Allowed(ci, {Verb::kApply, "taskdefinitions", "web-api"}));
  EXPECT_FALSE(authz.Allowed(ci, {Verb::kApply, "taskdefinitions", "db"}));
  // Nor may it reference or write another team's secret.
  EXPECT_TRUE(authz.Allowed(ci, {Verb::kApply, "secrets", "web-db-password"}));
  EXPECT_FALSE(authz.Allowed(ci, {Verb::kApply, "secrets", "db-password"}));
  EXPECT_FALSE(authz.Allowed(ci, {Verb::kUpdate, "secrets", "db-password"}));
  // Reading is not limited by the glob.
  EXPECT_TRUE(authz.Allowed(ci, {Verb::kGet, "services", "db"}));
  const absl::Status st = authz.Check(ci, {Verb::kScale, "services", "db"});
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "token \"ci-web\" (role deployer) may not scale service db");
}

TEST(AuthorizerTest, DeployerWithoutGlobMayChangeEveryService) {
  Authorizer authz;
  EXPECT_TRUE(authz.Allowed(Token("ci", "deployer"), {Verb::kScale, "services", "db"}));
  EXPECT_TRUE(authz.Allowed(Token("ci", "deployer", "*"), {Verb::kUndo, "services", "db"}));
}

TEST(AuthorizerTest, RefusalsNameTheObject) {
  Authorizer authz;
  const Identity viewer = Token("dash", "viewer");
  EXPECT_EQ(authz.Check(viewer, {Verb::kCreate, "tokens", ""}).message(),
            "token \"dash\" (role viewer) may not create token");
  EXPECT_EQ(authz.Check(viewer, {Verb::kList, "tokens", ""}).message(),
            "token \"dash\" (role viewer) may not list tokens");
  EXPECT_EQ(authz.Check(viewer, {Verb::kList, "jointokens", ""}).message(),
            "token \"dash\" (role viewer) may not list join tokens");
  EXPECT_EQ(authz.Check(viewer, {Verb::kApply, "taskdefinitions", "web"}).message(),
            "token \"dash\" (role viewer) may not apply task definition web");
  EXPECT_EQ(authz.Check(viewer, {Verb::kDelete, "nodes", "n1"}).message(),
            "token \"dash\" (role viewer) may not delete node n1");
  Identity cert;
  cert.kind = Identity::Kind::kOperatorCertificate;
  cert.name = "alice";
  cert.role = "lb";
  EXPECT_EQ(authz.Check(cert, {Verb::kRevoke, "jointokens", "abc"}).message(),
            "certificate \"alice\" (role lb) may not revoke join token abc");
}

TEST(AuthorizerTest, NodeIdentitiesAreRefusedEverything) {
  Authorizer authz;
  Identity node;
  node.kind = Identity::Kind::kNode;
  node.name = "n1";
  node.role = "admin";  // ignored for nodes
  for (Verb verb : kAllVerbs) {
    for (const auto& resource : kAllResources) {
      const absl::Status st = authz.Check(node, {verb, resource, "x"});
      EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
      EXPECT_THAT(st.message(), HasSubstr("node certificates can call only the agent API"));
    }
  }
  EXPECT_THAT(authz.Check(node, {Verb::kGet, "services", "web"}).message(),
              HasSubstr("node \"n1\" may not get service web"));
}

TEST(AuthorizerTest, UnknownRoleIsRefused) {
  Authorizer authz;
  EXPECT_FALSE(authz.KnownRole("superuser"));
  EXPECT_FALSE(authz.KnownRole(""));
  for (const std::string role : {"admin", "deployer", "viewer", "lb"}) {
    EXPECT_TRUE(authz.KnownRole(role)) << role;
  }
  // Tokens are made only for roles that exist: the role was deleted.
  const absl::Status st = authz.Check(Token("x", "superuser"), {Verb::kGet, "services", "web"});
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("role superuser no longer exists"));
  Identity cert;
  cert.kind = Identity::Kind::kOperatorCertificate;
  cert.name = "alice";
  cert.role = "superuser";
  EXPECT_THAT(authz.Check(cert, {Verb::kGet, "services", "web"}).message(),
              HasSubstr("role superuser is not known"));
}

TEST(AuthorizerTest, DescribeNamesTheIdentity) {
  Identity cert;
  cert.kind = Identity::Kind::kOperatorCertificate;
  cert.name = "alice";
  cert.role = "admin";
  EXPECT_EQ(cert.Describe(), "certificate \"alice\" (role admin)");
  EXPECT_EQ(Token("ci-web", "deployer").Describe(), "token \"ci-web\" (role deployer)");
  Identity node;
  node.kind = Identity::Kind::kNode;
  node.name = "n1";
  EXPECT_EQ(node.Describe(), "node \"n1\"");
  EXPECT_TRUE(node.is_node());
}

TEST(GlobMatchTest, Cases) {
  struct Case {
    std::string pattern;
    std::string text;
    bool match;
  };
  const std::vector<Case> cases = {
      {"*", "", true},          {"*", "anything", true},    {"", "", true},
      {"", "a", false},         {"web", "web", true},       {"web", "web-api", false},
      {"web*", "web", true},    {"web*", "web-api", true},  {"web*", "db", false},
      {"web*", "aweb", false},  {"*-api", "web-api", true}, {"*-api", "web-apix", false},
      {"w?b", "web", true},     {"w?b", "wb", false},       {"?", "", false},
      {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false},   {"**", "x", true},
      {"*a", "aaa", true},      {"a*a", "a", false},        {"*?", "", false},
      {"*.*", "a.b", true},     {"web?*", "web", false},    {"*b", "*b", true},
      {"a*", "*", false},       {"?*?", "ab", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text), c.match) << c.pattern << " vs " << c.text;
  }
}

TEST(GlobMatchTest, PathologicalPatternFinishesQuickly) {
  // A backtracking matcher takes exponential time on this and would hit the
  // test timeout; ours does at most pattern x text steps.
  std::string pattern;
  for (int i = 0; i < 100; ++i) pattern += "a*";
  const std::string text(5000, 'a');
  EXPECT_FALSE(GlobMatch(pattern + "b", text));
  EXPECT_TRUE(GlobMatch(pattern, text));
  EXPECT_FALSE(GlobMatch(std::string(300, '*') + "?b", text));
}

}  // namespace
}  // namespace gantry::identity
