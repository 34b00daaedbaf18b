// The Authorizer's decisions with custom roles, found through a fake
// RoleSource: verbs x resources x name globs, "*", built-ins that cannot be
// overridden, admin-only resources, and roles that are gone.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "controlplane/identity/authorizer.h"
#include "controlplane/identity/role_registry.h"

namespace gantry::identity {
namespace {

using ::testing::HasSubstr;

class MapRoleSource final : public RoleSource {
 public:
  std::optional<Role> FindRole(const std::string& name) const override {
    auto it = roles.find(name);
    if (it == roles.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, Role> roles;
};

Identity Token(const std::string& role) {
  Identity who;
  who.kind = Identity::Kind::kOperatorToken;
  who.name = "ci";
  who.accessor = "0123456789ab";
  who.role = role;
  return who;
}

// As apply would store it: through the same conversion.
Role FromYamlish(const std::string& name, std::vector<gantry::v1::RoleRule> rules) {
  gantry::v1::Role message;
  message.set_name(name);
  for (auto& r : rules) *message.add_rules() = std::move(r);
  return RoleFromMessage(message);
}

gantry::v1::RoleRule R(std::vector<std::string> verbs, std::vector<std::string> resources,
                       std::vector<std::string> names = {}) {
  gantry::v1::RoleRule rule;
  for (auto& v : verbs) rule.add_verbs(v);
  for (auto& r : resources) rule.add_resources(r);
  for (auto& n : names) rule.add_names(n);
  return rule;
}

class CustomRolesTest : public ::testing::Test {
 protected:
  void Add(Role role) { source_.roles[role.name] = std::move(role); }
  bool Allowed(const std::string& role, Verb verb, const std::string& resource,
               const std::string& name = "") {
    return authz_.Allowed(Token(role), {verb, resource, name});
  }

  MapRoleSource source_;
  Authorizer authz_{&source_};
};

TEST_F(CustomRolesTest, VerbsTimesResourcesTimesNameGlobs) {
  Add(FromYamlish("web-ops", {R({"scale", "undo"}, {"services"}, {"web*", "api"}),
                              R({"get", "list"}, {"services", "tasks"})}));
  EXPECT_TRUE(Allowed("web-ops", Verb::kScale, "services", "web"));
  EXPECT_TRUE(Allowed("web-ops", Verb::kUndo, "services", "web-canary"));
  EXPECT_TRUE(Allowed("web-ops", Verb::kScale, "services", "api"));
  EXPECT_FALSE(Allowed("web-ops", Verb::kScale, "services", "api-2"));
  EXPECT_FALSE(Allowed("web-ops", Verb::kScale, "services", "db"));
  EXPECT_FALSE(Allowed("web-ops", Verb::kApply, "services", "web"));
  EXPECT_FALSE(Allowed("web-ops", Verb::kScale, "taskdefinitions", "web"));
  EXPECT_TRUE(Allowed("web-ops", Verb::kList, "tasks"));
  EXPECT_TRUE(Allowed("web-ops", Verb::kGet, "services", "db"));
  EXPECT_FALSE(Allowed("web-ops", Verb::kList, "nodes"));
  EXPECT_FALSE(Allowed("web-ops", Verb::kDelete, "services", "web"));
  const absl::Status st = authz_.Check(Token("web-ops"), {Verb::kScale, "services", "db"});
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "token \"ci\" (role web-ops) may not scale service db");
  EXPECT_TRUE(authz_.KnownRole("web-ops"));
}

TEST_F(CustomRolesTest, StarIsEveryVerbAndEveryGrantableResource) {
  Add(FromYamlish("operator", {R({"*"}, {"*"})}));
  for (Verb verb : access::AllVerbs()) {
    for (const std::string resource :
         {"services", "taskdefinitions", "tasks", "nodes", "events", "images", "endpoints"}) {
      EXPECT_TRUE(Allowed("operator", verb, resource, "x")) << VerbName(verb) << " " << resource;
    }
  }
  Add(FromYamlish("any-verb", {R({"*"}, {"nodes"}, {"n?"})}));
  EXPECT_TRUE(Allowed("any-verb", Verb::kDelete, "nodes", "n1"));
  EXPECT_FALSE(Allowed("any-verb", Verb::kDelete, "nodes", "n10"));
  EXPECT_FALSE(Allowed("any-verb", Verb::kGet, "services", "n1"));
}

// Even a role whose rules name them (a record not written through apply's
// validation) never grants tokens, join tokens or changes to roles.
TEST_F(CustomRolesTest, AdminOnlyResourcesAreNeverGranted) {
  Add(FromYamlish("sneaky", {R({"*"}, {"*"}), R({"*"}, {"tokens", "jointokens", "roles"})}));
  for (Verb verb : access::AllVerbs()) {
    for (const std::string resource : {"tokens", "jointokens"}) {
      const absl::Status st = authz_.Check(Token("sneaky"), {verb, resource, ""});
      EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << VerbName(verb) << resource;
      EXPECT_THAT(st.message(), HasSubstr("only the built-in admin role may"));
    }
    const bool read = verb == Verb::kGet || verb == Verb::kList;
    EXPECT_EQ(Allowed("sneaky", verb, "roles", "sneaky"), read) << VerbName(verb);
  }
  EXPECT_THAT(authz_.Check(Token("sneaky"), {Verb::kCreate, "tokens", ""}).message(),
              HasSubstr("token \"ci\" (role sneaky) may not create token: only the built-in "
                        "admin role may"));
}

TEST_F(CustomRolesTest, BuiltInRolesCannotBeOverridden) {
  // A source that (wrongly) holds roles with built-in names changes nothing.
  Add(FromYamlish("viewer", {R({"*"}, {"*"})}));
  Add(FromYamlish("lb", {R({"*"}, {"*"})}));
  EXPECT_FALSE(Allowed("viewer", Verb::kDelete, "services", "web"));
  EXPECT_TRUE(Allowed("viewer", Verb::kList, "services"));
  EXPECT_FALSE(Allowed("lb", Verb::kList, "services"));
  EXPECT_TRUE(Allowed("lb", Verb::kList, "endpoints"));
  EXPECT_TRUE(Allowed("admin", Verb::kCreate, "tokens"));
}

TEST_F(CustomRolesTest, ADeletedRoleIsRefusedEverythingSayingSo) {
  Add(FromYamlish("web-ops", {R({"*"}, {"*"})}));
  EXPECT_TRUE(Allowed("web-ops", Verb::kScale, "services", "web"));
  source_.roles.clear();  // deleted
  EXPECT_FALSE(authz_.KnownRole("web-ops"));
  for (Verb verb : access::AllVerbs()) {
    const absl::Status st = authz_.Check(Token("web-ops"), {verb, "services", "web"});
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(st.message(), HasSubstr("role web-ops no longer exists"));
  }
  Identity cert;
  cert.kind = Identity::Kind::kOperatorCertificate;
  cert.name = "alice";
  cert.role = "web-ops";
  EXPECT_THAT(authz_.Check(cert, {Verb::kGet, "services", "web"}).message(),
              HasSubstr("role web-ops is not known"));
}

TEST_F(CustomRolesTest, WithoutASourceOnlyBuiltInsExist) {
  Authorizer plain;
  EXPECT_FALSE(plain.KnownRole("web-ops"));
  EXPECT_FALSE(plain.Allowed(Token("web-ops"), {Verb::kGet, "services", "web"}));
  ASSERT_EQ(plain.built_in_roles().size(), access::BuiltInRoleNames().size());
  for (size_t i = 0; i < plain.built_in_roles().size(); ++i) {
    EXPECT_EQ(plain.built_in_roles()[i].name, access::BuiltInRoleNames()[i]);
  }
}

TEST(RoleMessagesTest, UnknownVerbsNeverWidenARule) {
  // From a newer control plane, say: the verb is dropped; a rule left with
  // no verb is dropped whole (empty would mean "every verb").
  Role role = FromYamlish("future", {R({"scale", "frobnicate"}, {"services"}),
                                     R({"frobnicate"}, {"services"}), R({"get"}, {})});
  ASSERT_EQ(role.rules.size(), 1u);
  EXPECT_EQ(role.rules[0].verbs, std::vector<Verb>{Verb::kScale});
  MapRoleSource source;
  source.roles["future"] = role;
  Authorizer authz(&source);
  EXPECT_FALSE(authz.Allowed(Token("future"), {Verb::kDelete, "services", "web"}));
  EXPECT_TRUE(authz.Allowed(Token("future"), {Verb::kScale, "services", "web"}));
}

TEST(RoleMessagesTest, RoundTripShowsStars) {
  const Role role = FromYamlish("r", {R({"*"}, {"services"}, {"web*"})});
  const gantry::v1::Role message = RoleToMessage(role);
  ASSERT_EQ(message.rules_size(), 1);
  EXPECT_THAT(message.rules(0).verbs(), ::testing::ElementsAre("*"));
  EXPECT_THAT(message.rules(0).resources(), ::testing::ElementsAre("services"));
  EXPECT_THAT(message.rules(0).names(), ::testing::ElementsAre("web*"));
}

}  // namespace
}  // namespace gantry::identity
