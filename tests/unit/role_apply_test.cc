// Custom roles through the operator API's logic: applied with the other
// documents in one all-or-nothing transaction, needing admin's permission,
// listed with the built-ins, deleted while tokens hold them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controlplane/api/access_api.h"
#include "controlplane/api/permissions.h"
#include "controlplane/identity/role_registry.h"
#include "controlplane/identity/token_registry.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::api {
namespace {

using identity::Verb;
using ::testing::HasSubstr;

gantry::v1::Role Scaler() {
  gantry::v1::Role role;
  role.set_name("web-scaler");
  role.set_description("CI scales web");
  auto* rule = role.add_rules();
  rule->add_verbs("scale");
  rule->add_resources("services");
  rule->add_names("web*");
  return role;
}

class RoleApplyTest : public testing::ControlPlaneFixture {
 protected:
  RoleApplyTest()
      : roles_(store_.get()),
        tokens_(store_.get(), &clock_),
        authorizer_(&roles_),
        api_with_roles_(state_.get(), events_.get(), nodes_.get(), &clock_, &roles_),
        access_(&tokens_, &authorizer_, nullptr, &roles_) {
    EXPECT_TRUE(roles_.Start().ok());
    EXPECT_TRUE(tokens_.Start().ok());
  }

  gantry::v1::ApplyRequest WebWithRole() {
    gantry::v1::ApplyRequest req;
    *req.add_task_definitions() = WebTd();
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(1);
    *req.add_roles() = Scaler();
    return req;
  }

  identity::RoleRegistry roles_;
  identity::TokenRegistry tokens_;
  identity::Authorizer authorizer_;
  OperatorApi api_with_roles_;
  AccessApi access_;
};

TEST_F(RoleApplyTest, ARoleIsAppliedWithTheOtherDocuments) {
  auto applied = api_with_roles_.Apply(WebWithRole());
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_EQ(applied->results_size(), 3);
  EXPECT_EQ(applied->results(2).kind(), "Role");
  EXPECT_EQ(applied->results(2).name(), "web-scaler");
  EXPECT_EQ(applied->results(2).action(), "created");
  EXPECT_TRUE(authorizer_.KnownRole("web-scaler"));
  EXPECT_THAT(EventMessages(), ::testing::Contains("Role web-scaler created"));
  auto again = api_with_roles_.Apply(WebWithRole());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->results(2).action(), "unchanged");
}

TEST_F(RoleApplyTest, ABadRoleChangesNothing) {
  auto req = WebWithRole();
  req.mutable_roles(0)->mutable_rules(0)->add_verbs("scael");
  auto applied = api_with_roles_.Apply(req);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(applied.status().message(),
              HasSubstr("Role web-scaler: rules[0].verbs[1]: unknown verb \"scael\" (expected "
                        "one of: *, get, list,"));
  EXPECT_EQ(store_->Revision(), 0) << "neither the service nor its task definition is stored";

  req = WebWithRole();
  *req.add_roles() = Scaler();
  EXPECT_THAT(api_with_roles_.Apply(req).status().message(),
              HasSubstr("Role web-scaler: defined twice in one apply"));
  EXPECT_EQ(store_->Revision(), 0);
}

TEST_F(RoleApplyTest, AnApiWithoutRolesRefusesThem) {
  auto applied = api_->Apply(WebWithRole());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Revision(), 0);
}

TEST_F(RoleApplyTest, ApplyingARoleNeedsAdmin) {
  const auto needed = ApplyPermissions(WebWithRole());
  ASSERT_EQ(needed.size(), 3u);
  EXPECT_EQ(needed[2].verb, Verb::kApply);
  EXPECT_EQ(needed[2].resource, "roles");
  EXPECT_EQ(needed[2].name, "web-scaler");
  identity::Identity who;
  who.name = "ci";
  for (const std::string role : {"deployer", "viewer", "lb"}) {
    who.role = role;
    EXPECT_FALSE(authorizer_.Allowed(who, needed[2])) << role;
  }
  who.role = "admin";
  EXPECT_TRUE(authorizer_.Allowed(who, needed[2]));
}

TEST_F(RoleApplyTest, TokensNeedAnExistingRole) {
  gantry::v1::CreateTokenRequest req;
  req.set_role("web-scaler");
  auto refused = access_.CreateToken(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("role: \"web-scaler\" is not a role; use admin, deployer, viewer, lb or "
                        "a custom role"));
  ASSERT_TRUE(api_with_roles_.Apply(WebWithRole()).ok());
  auto created = access_.CreateToken(req);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->info().role(), "web-scaler");
  req.set_services("web*");
  EXPECT_THAT(access_.CreateToken(req).status().message(),
              HasSubstr("only a deployer token is scoped to services"));
}

TEST_F(RoleApplyTest, ListRolesShowsBuiltInsThenCustomRoles) {
  ASSERT_TRUE(api_with_roles_.Apply(WebWithRole()).ok());
  auto list = access_.ListRoles();
  ASSERT_TRUE(list.ok());
  std::vector<std::string> names;
  for (const auto& r : list->roles()) names.push_back(r.name());
  EXPECT_THAT(names, ::testing::ElementsAre("admin", "deployer", "viewer", "lb", "web-scaler"));
  EXPECT_TRUE(list->roles(0).built_in());
  EXPECT_THAT(list->roles(0).rules(0).verbs(), ::testing::ElementsAre("*"));
  EXPECT_THAT(list->roles(1).rules(0).names(), ::testing::ElementsAre("<services>"));
  EXPECT_FALSE(list->roles(4).built_in());
  EXPECT_EQ(list->roles(4).description(), "CI scales web");
}

TEST_F(RoleApplyTest, DeletingARoleInUseNamesItsTokensWhichThenGetNothing) {
  ASSERT_TRUE(api_with_roles_.Apply(WebWithRole()).ok());
  gantry::v1::CreateTokenRequest create;
  create.set_role("web-scaler");
  create.set_description("ci");
  auto token = access_.CreateToken(create);
  ASSERT_TRUE(token.ok());
  auto who = tokens_.Authenticate(token->token());
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(authorizer_.Allowed(*who, {Verb::kScale, "services", "web"}));

  gantry::v1::DeleteRoleRequest del;
  del.set_name("viewer");
  EXPECT_EQ(access_.DeleteRole(del).status().code(), absl::StatusCode::kFailedPrecondition);
  del.set_name("web-scaler");
  auto deleted = access_.DeleteRole(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->role().name(), "web-scaler");
  EXPECT_THAT(deleted->tokens(), ::testing::ElementsAre(token->info().accessor()));
  const absl::Status st = authorizer_.Check(*who, {Verb::kScale, "services", "web"});
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("role web-scaler no longer exists"));
  EXPECT_EQ(access_.DeleteRole(del).status().code(), absl::StatusCode::kNotFound);
  // Applying it again gives the token its permissions back, as in Kubernetes.
  ASSERT_TRUE(api_with_roles_.Apply(WebWithRole()).ok());
  EXPECT_TRUE(authorizer_.Allowed(*who, {Verb::kScale, "services", "web"}));
}

}  // namespace
}  // namespace gantry::api
