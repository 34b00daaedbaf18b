// RoleRegistry on a real (in-memory) store: staged roles commit in the
// caller's transaction, the cache follows the store (so a second registry
// on the same store sees them), deletes, and records that must never grant.

#include "controlplane/identity/role_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_util.h"
#include "controlplane/store/sqlite_store.h"

namespace gantry::identity {
namespace {

using ::testing::HasSubstr;

gantry::v1::Role Scaler(const std::string& verb = "scale") {
  gantry::v1::Role role;
  role.set_name("web-scaler");
  auto* rule = role.add_rules();
  rule->add_verbs(verb);
  rule->add_resources("services");
  rule->add_names("web*");
  return role;
}

class RoleRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open({":memory:"});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    registry_ = std::make_unique<RoleRegistry>(store_.get());
    ASSERT_TRUE(registry_->Start().ok());
  }

  // Stages and commits, as apply does; returns the action.
  std::string Apply(const gantry::v1::Role& role, absl::Time at = absl::FromUnixSeconds(1000)) {
    store::TxnRequest txn;
    auto action = registry_->Stage(role, ToProtoTime(at), txn);
    EXPECT_TRUE(action.ok()) << action.status();
    if (!action.ok()) return "";
    if (!txn.ops.empty()) {
      auto committed = store_->Txn(txn);
      EXPECT_TRUE(committed.ok() && committed->succeeded);
    }
    return *action;
  }

  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<RoleRegistry> registry_;
};

TEST_F(RoleRegistryTest, AppliedRolesAreFoundAndListed) {
  EXPECT_FALSE(registry_->FindRole("web-scaler").has_value());
  EXPECT_EQ(Apply(Scaler()), "created");
  auto role = registry_->FindRole("web-scaler");
  ASSERT_TRUE(role.has_value());
  ASSERT_EQ(role->rules.size(), 1u);
  EXPECT_EQ(role->rules[0].verbs, std::vector<Verb>{Verb::kScale});
  EXPECT_EQ(role->rules[0].names, std::vector<std::string>{"web*"});
  auto list = registry_->ListRoles();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name(), "web-scaler");
  EXPECT_EQ(FromProtoTime(list[0].created_at()), absl::FromUnixSeconds(1000));
  EXPECT_FALSE(list[0].built_in());
}

TEST_F(RoleRegistryTest, ApplyingAgainIsUnchangedOrUpdatesKeepingCreation) {
  EXPECT_EQ(Apply(Scaler()), "created");
  const int64_t revision = store_->Revision();
  EXPECT_EQ(Apply(Scaler(), absl::FromUnixSeconds(2000)), "unchanged");
  EXPECT_EQ(store_->Revision(), revision);
  EXPECT_EQ(Apply(Scaler("undo"), absl::FromUnixSeconds(3000)), "updated");
  auto list = registry_->ListRoles();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(FromProtoTime(list[0].created_at()), absl::FromUnixSeconds(1000));
  EXPECT_EQ(FromProtoTime(list[0].updated_at()), absl::FromUnixSeconds(3000));
  EXPECT_EQ(registry_->FindRole("web-scaler")->rules[0].verbs, std::vector<Verb>{Verb::kUndo});
}

TEST_F(RoleRegistryTest, AnotherRegistryOnTheStoreSeesChangesWithoutRestart) {
  RoleRegistry other(store_.get());
  ASSERT_TRUE(other.Start().ok());
  Apply(Scaler());
  EXPECT_TRUE(other.FindRole("web-scaler").has_value());
  ASSERT_TRUE(registry_->DeleteRole("web-scaler").ok());
  EXPECT_FALSE(other.FindRole("web-scaler").has_value());
  // And one started later loads what is there.
  Apply(Scaler());
  RoleRegistry late(store_.get());
  ASSERT_TRUE(late.Start().ok());
  EXPECT_TRUE(late.FindRole("web-scaler").has_value());
}

TEST_F(RoleRegistryTest, StagingLosesToAConcurrentChange) {
  Apply(Scaler());
  store::TxnRequest txn;
  ASSERT_TRUE(registry_->Stage(Scaler("undo"), ToProtoTime(absl::Now()), txn).ok());
  // Someone else changes it between our read and our commit.
  Apply(Scaler("logs"));
  auto committed = store_->Txn(txn);
  ASSERT_TRUE(committed.ok());
  EXPECT_FALSE(committed->succeeded);
}

TEST_F(RoleRegistryTest, StageRefusesInvalidRoles) {
  store::TxnRequest txn;
  gantry::v1::Role admin = Scaler();
  admin.set_name("admin");
  auto st = registry_->Stage(admin, ToProtoTime(absl::Now()), txn);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status().message(), HasSubstr("Role admin: name: \"admin\" is a built-in role"));
  EXPECT_TRUE(txn.ops.empty());
}

TEST_F(RoleRegistryTest, DeleteRefusesBuiltInsAndUnknownRoles) {
  auto builtin = registry_->DeleteRole("viewer");
  EXPECT_EQ(builtin.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(builtin.status().message(), "role viewer is built in and cannot be deleted");
  auto missing = registry_->DeleteRole("nosuch");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("gantryctl get roles"));
  EXPECT_EQ(registry_->DeleteRole("Bad/Name").status().code(), absl::StatusCode::kInvalidArgument);
  Apply(Scaler());
  auto deleted = registry_->DeleteRole("web-scaler");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->name(), "web-scaler");
  EXPECT_FALSE(registry_->FindRole("web-scaler").has_value());
  EXPECT_TRUE(registry_->ListRoles().empty());
}

TEST_F(RoleRegistryTest, RecordsThatCannotBeTrustedGrantNothing) {
  gantry::v1::Role admin = Scaler();
  admin.set_name("admin");
  gantry::v1::Role mismatched = Scaler();
  mismatched.set_name("other");
  store::TxnRequest txn;
  txn.ops.push_back(store::Op::Put(std::string(kRolePrefix) + "admin", admin.SerializeAsString()));
  txn.ops.push_back(store::Op::Put(std::string(kRolePrefix) + "broken", "\xff\xff not a proto"));
  txn.ops.push_back(
      store::Op::Put(std::string(kRolePrefix) + "web-scaler", mismatched.SerializeAsString()));
  ASSERT_TRUE(store_->Txn(txn).ok());
  EXPECT_FALSE(registry_->FindRole("admin").has_value());
  EXPECT_FALSE(registry_->FindRole("broken").has_value());
  EXPECT_FALSE(registry_->FindRole("web-scaler").has_value());
  EXPECT_FALSE(registry_->FindRole("other").has_value());
  EXPECT_TRUE(registry_->ListRoles().empty());
  // Applying over an undecodable record replaces it.
  gantry::v1::Role fixed = Scaler();
  fixed.set_name("broken");
  EXPECT_EQ(Apply(fixed), "updated");
  EXPECT_TRUE(registry_->FindRole("broken").has_value());
}

}  // namespace
}  // namespace gantry::identity
