// What a custom role may say (access/role_validation.h), and the shared
// vocabulary it is checked against.

#include "common/access/role_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/access/vocabulary.h"

namespace gantry::access {
namespace {

using ::testing::HasSubstr;

gantry::v1::Role Scaler() {
  gantry::v1::Role role;
  role.set_name("web-scaler");
  role.set_description("CI scales the web services");
  auto* rule = role.add_rules();
  rule->add_verbs("get");
  rule->add_verbs("scale");
  rule->add_resources("services");
  rule->add_names("web*");
  return role;
}

// "field: problem" for each error, to compare whole messages.
std::vector<std::string> Problems(const gantry::v1::Role& role) {
  std::vector<std::string> out;
  for (const auto& e : ValidateRole(role)) out.push_back(e.field + ": " + e.problem);
  return out;
}

TEST(ValidateRoleTest, AGoodRoleHasNoErrors) {
  EXPECT_THAT(Problems(Scaler()), ::testing::IsEmpty());
  gantry::v1::Role all = Scaler();
  all.clear_rules();
  auto* rule = all.add_rules();
  rule->add_verbs("*");
  rule->add_resources("*");  // every resource a custom role can grant
  EXPECT_THAT(Problems(all), ::testing::IsEmpty());
  gantry::v1::Role reader = Scaler();
  reader.mutable_rules(0)->clear_verbs();
  reader.mutable_rules(0)->add_verbs("list");
  reader.mutable_rules(0)->add_resources("roles");
  reader.mutable_rules(0)->clear_names();
  EXPECT_THAT(Problems(reader), ::testing::IsEmpty());
}

TEST(ValidateRoleTest, AnUnknownVerbNamesItsFieldAndTheAllowedVerbs) {
  gantry::v1::Role role = Scaler();
  auto* second = role.add_rules();
  second->add_verbs("scael");
  second->add_resources("tasks");
  EXPECT_THAT(Problems(role),
              ::testing::ElementsAre(
                  "rules[1].verbs[0]: unknown verb \"scael\" (expected one of: *, get, list, "
                  "apply, scale, undo, delete, update, logs, create, revoke, read, use)"));
}

TEST(ValidateRoleTest, AnUnknownResourceNamesItsFieldAndTheAllowedResources) {
  gantry::v1::Role role = Scaler();
  role.mutable_rules(0)->add_resources("service");
  role.mutable_rules(0)->add_resources("pods");
  const auto problems = Problems(role);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0],
            "rules[0].resources[1]: unknown resource \"service\" (did you mean services?) "
            "(expected one of: *, services, taskdefinitions, tasks, nodes, events, images, "
            "endpoints, roles, audit, controlplanes, secrets, capabilities, networks, "
            "networkacls)");
  EXPECT_THAT(problems[1], HasSubstr("rules[0].resources[2]: unknown resource \"pods\" (expected"));
}

TEST(ValidateRoleTest, TokensAndRoleChangesCannotBeGranted) {
  for (const std::string resource : {"tokens", "jointokens", "snapshots"}) {
    gantry::v1::Role role = Scaler();
    role.mutable_rules(0)->set_resources(0, resource);
    const auto problems = Problems(role);
    ASSERT_EQ(problems.size(), 1u) << resource;
    EXPECT_THAT(problems[0], HasSubstr("rules[0].resources[0]: "));
    EXPECT_THAT(problems[0], HasSubstr("the built-in admin role's alone"));
  }
  for (const std::string verb : {"apply", "delete", "*"}) {
    gantry::v1::Role role = Scaler();
    role.mutable_rules(0)->set_verbs(1, verb);
    role.mutable_rules(0)->set_resources(0, "roles");
    const auto problems = Problems(role);
    ASSERT_EQ(problems.size(), 1u) << verb;
    EXPECT_THAT(problems[0],
                HasSubstr("rules[0].resources[0]: a custom role may only get and list roles"));
  }
}

TEST(ValidateRoleTest, NamesMustBeDnsLabelsAndNotBuiltIn) {
  for (const std::string name : {"admin", "deployer", "viewer", "lb"}) {
    gantry::v1::Role role = Scaler();
    role.set_name(name);
    EXPECT_THAT(Problems(role), ::testing::ElementsAre(HasSubstr("is a built-in role")));
  }
  for (const std::string& name :
       std::vector<std::string>{"", "Web", "-web", "web-", "web_scaler", std::string(64, 'a')}) {
    gantry::v1::Role role = Scaler();
    role.set_name(name);
    EXPECT_THAT(Problems(role), ::testing::ElementsAre(HasSubstr("name: "))) << name;
    EXPECT_THAT(Problems(role)[0], HasSubstr("a DNS label")) << name;
  }
}

TEST(ValidateRoleTest, RulesAndTheirListsAreRequiredAndBounded) {
  gantry::v1::Role role = Scaler();
  role.clear_rules();
  EXPECT_THAT(Problems(role), ::testing::ElementsAre(HasSubstr("rules: required")));
  role = Scaler();
  role.mutable_rules(0)->clear_verbs();
  role.mutable_rules(0)->clear_resources();
  EXPECT_THAT(Problems(role), ::testing::ElementsAre(HasSubstr("rules[0].verbs: required"),
                                                     HasSubstr("rules[0].resources: required")));
  role = Scaler();
  for (int i = 0; i < 100; ++i) *role.add_rules() = role.rules(0);
  EXPECT_THAT(Problems(role), ::testing::ElementsAre("rules: at most 100 rules, got 101"));
}

TEST(ValidateRoleTest, GlobsAndDescriptionsAreChecked) {
  gantry::v1::Role role = Scaler();
  role.mutable_rules(0)->add_names("");
  role.mutable_rules(0)->add_names("web/*");
  role.set_description("two\nlines");
  EXPECT_THAT(Problems(role), ::testing::ElementsAre(HasSubstr("description: holds a control"),
                                                     HasSubstr("rules[0].names[1]: an empty glob"),
                                                     HasSubstr("rules[0].names[2]: \"web/*\"")));
}

TEST(VocabularyTest, VerbsRoundTripAndAdminOnlyIsTheIdentityResources) {
  for (Verb verb : AllVerbs()) EXPECT_EQ(ParseVerb(VerbName(verb)), verb);
  EXPECT_FALSE(ParseVerb("Get").has_value());
  EXPECT_EQ(FindResource("tasks")->singular, std::string("task"));
  EXPECT_EQ(FindResource("task"), nullptr);
  for (Verb verb : AllVerbs()) {
    EXPECT_TRUE(AdminOnly(verb, "tokens"));
    EXPECT_TRUE(AdminOnly(verb, "jointokens"));
    EXPECT_EQ(AdminOnly(verb, "roles"), verb != Verb::kGet && verb != Verb::kList);
    EXPECT_FALSE(AdminOnly(verb, "services"));
  }
}

}  // namespace
}  // namespace gantry::access
