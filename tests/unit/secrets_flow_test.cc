// Secrets through the control plane's logic on a fake clock: apply checks
// references, a deployment pins versions, tasks and desired sets carry the
// versions (never values), only the task's node gets the values, an update
// rolls the services that follow the secret, and deleting a used secret is
// refused.

#include <gmock/gmock.h>

#include "controlplane/api/permissions.h"
#include "controlplane/api/secrets_api.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/nodes/agent_sessions.h"
#include "controlplane/secrets/secret_usage.h"
#include "controlplane/secrets/task_secrets.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SecretsFlowTest : public ControlPlaneFixture {
 protected:
  SecretsFlowTest() {
    registry_ = std::make_unique<secrets::SecretRegistry>(store_.get(), kek_, &clock_);
    EXPECT_TRUE(registry_->Start().ok());
    registry_->SetInUse(
        [this](const std::string& name) { return secrets::PinnedVersions(*state_, name); });
    api_ = std::make_unique<api::OperatorApi>(state_.get(), events_.get(), nodes_.get(), &clock_,
                                              nullptr, registry_.get());
    controller_->SetSecrets(registry_.get());
    secrets_ =
        std::make_unique<api::SecretsApi>(state_.get(), events_.get(), registry_.get(), &clock_);
  }

  absl::Status Put(const std::string& name, const std::string& value, bool create = true,
                   bool no_rollout = false) {
    gantry::v1::PutSecretRequest req;
    req.set_name(name);
    req.set_value(value);
    req.set_no_rollout(no_rollout);
    auto out = create ? secrets_->Create(req, "admin") : secrets_->Update(req, "admin");
    return out.status();
  }

  // web with DB_PASSWORD from `value_from` and a key file.
  absl::StatusOr<gantry::v1::ApplyResponse> ApplyWithSecrets(const std::string& value_from,
                                                             int count = 2) {
    gantry::v1::ApplyRequest req;
    auto td = WebTd();
    auto* env = td.mutable_containers(0)->add_secrets();
    env->set_name("DB_PASSWORD");
    env->set_value_from(value_from);
    auto* file = td.mutable_containers(0)->add_secrets();
    file->set_file("/run/secrets/tls.key");
    file->set_value_from("tls-key");
    *req.add_task_definitions() = td;
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(count);
    return api_->Apply(req);
  }

  gantry::v1::Deployment Primary() {
    auto s = state_->GetService("web");
    return *deployments::Primary(s->value);
  }

  secrets::KeyEncryptionKey kek_ = *secrets::KeyEncryptionKey::Generate();
  std::unique_ptr<secrets::SecretRegistry> registry_;
  std::unique_ptr<api::SecretsApi> secrets_;
};

TEST_F(SecretsFlowTest, ApplyRefusesAMissingSecretNamingTheField) {
  ASSERT_TRUE(Put("db-password", "pw-1").ok());
  ASSERT_TRUE(Put("tls-key", "key-1").ok());
  auto r = ApplyWithSecrets("db-pasword");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("TaskDefinition web: containers[0].secrets[0].valueFrom: no secret "
                        "\"db-pasword\" (did you mean \"db-password\"?)"));
  r = ApplyWithSecrets("db-password:7");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("secret db-password has no version 7"));
  EXPECT_TRUE(state_->ListTaskDefinitions("web").empty()) << "nothing may change";
}

TEST_F(SecretsFlowTest, ADeploymentPinsVersionsAndOnlyTheTasksNodeGetsValues) {
  Register("n1", "a");
  Register("n2", "b");
  ASSERT_TRUE(Put("db-password", "pw-1").ok());
  ASSERT_TRUE(Put("tls-key", "key-1").ok());
  ASSERT_TRUE(ApplyWithSecrets("db-password", 1).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  EXPECT_TRUE(Primary().secrets_pinned());
  EXPECT_EQ(Primary().secret_versions().at("db-password"), 1);
  const auto tasks = Tasks();
  ASSERT_EQ(tasks.size(), 1u);
  const auto& task = tasks[0];
  EXPECT_EQ(task.secret_versions().at("tls-key"), 1);

  const auto desired = nodes::BuildDesiredTasks(*state_, task.node());
  ASSERT_EQ(desired.tasks_size(), 1);
  EXPECT_EQ(desired.tasks(0).secret_versions().at("db-password"), 1);
  EXPECT_EQ(desired.DebugString().find("pw-1"), std::string::npos) << "versions, never values";

  auto values = secrets::TaskSecretsFor(*state_, *registry_, task.node(), task.id());
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->secrets_size(), 2);
  EXPECT_EQ(values->secrets(0).value(), "pw-1");

  const std::string other = task.node() == "n1" ? "n2" : "n1";
  auto refused = secrets::TaskSecretsFor(*state_, *registry_, other, task.id());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  auto unknown = secrets::TaskSecretsFor(*state_, *registry_, other, "no-such-task");
  EXPECT_EQ(unknown.status().message(),
            "node " + other +
                " may not read the secrets of task no-such-task: no such task "
                "is assigned to it");
}

TEST_F(SecretsFlowTest, AnUpdateRollsTheServiceToTheNewVersion) {
  Register("n1", "a");
  ASSERT_TRUE(Put("db-password", "pw-1").ok());
  ASSERT_TRUE(Put("tls-key", "key-1").ok());
  ASSERT_TRUE(ApplyWithSecrets("db-password").ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  const std::string first = Primary().id();

  gantry::v1::PutSecretRequest req;
  req.set_name("db-password");
  req.set_value("pw-2");
  auto updated = secrets_->Update(req, "admin");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_THAT(updated->rolled_services(), ElementsAre("web"));
  EXPECT_THAT(updated->secret().used_by(), ElementsAre("web"));
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  EXPECT_NE(Primary().id(), first);
  EXPECT_EQ(Primary().secret_versions().at("db-password"), 2);
  EXPECT_EQ(Primary().secret_versions().at("tls-key"), 1);
  EXPECT_THAT(EventMessages("web"),
              ::testing::Contains(HasSubstr("secret db-password is now version 2")));

  // --no-rollout leaves the service where it is.
  req.set_value("pw-3");
  req.set_no_rollout(true);
  const std::string second = Primary().id();
  updated = secrets_->Update(req, "admin");
  ASSERT_TRUE(updated.ok());
  EXPECT_TRUE(updated->rolled_services().empty());
  EXPECT_EQ(Primary().id(), second);
}

TEST_F(SecretsFlowTest, APinnedReferenceDoesNotRoll) {
  ASSERT_TRUE(Put("db-password", "pw-1").ok());
  ASSERT_TRUE(Put("tls-key", "key-1").ok());
  ASSERT_TRUE(ApplyWithSecrets("db-password:1").ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  gantry::v1::PutSecretRequest req;
  req.set_name("db-password");
  req.set_value("pw-2");
  auto updated = secrets_->Update(req, "admin");
  ASSERT_TRUE(updated.ok());
  EXPECT_TRUE(updated->rolled_services().empty());
  EXPECT_EQ(Primary().secret_versions().at("db-password"), 1);
}

TEST_F(SecretsFlowTest, DeleteIsRefusedWhileAServiceUsesIt) {
  ASSERT_TRUE(Put("db-password", "pw-1").ok());
  ASSERT_TRUE(Put("tls-key", "key-1").ok());
  ASSERT_TRUE(ApplyWithSecrets("db-password").ok());
  auto refused = secrets_->Delete("db-password");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("used by service(s) web"));
  EXPECT_TRUE(registry_->Get("db-password").has_value());
  auto missing = secrets_->Get("db-pasword");
  EXPECT_THAT(missing.status().message(), HasSubstr("did you mean \"db-password\"?"));
}

TEST_F(SecretsFlowTest, ReferencingASecretNeedsApplyOnIt) {
  gantry::v1::ApplyRequest req;
  auto td = WebTd();
  auto* ref = td.mutable_containers(0)->add_secrets();
  ref->set_name("DB_PASSWORD");
  ref->set_value_from("db-password:2");
  *req.add_task_definitions() = td;
  bool found = false;
  for (const auto& p : api::ApplyPermissions(req)) {
    found |= p.verb == identity::Verb::kApply && p.resource == "secrets" && p.name == "db-password";
  }
  EXPECT_TRUE(found);
  identity::Authorizer authz;
  identity::Identity ci;
  ci.name = "ci-web";
  ci.role = "deployer";
  ci.services = "web*";
  EXPECT_FALSE(authz.Allowed(ci, {identity::Verb::kApply, "secrets", "db-password"}));
}

TEST_F(SecretsFlowTest, PlainCredentialsAreAppliedWithAWarning) {
  gantry::v1::ApplyRequest req;
  auto td = WebTd();
  (*td.mutable_containers(0)->mutable_environment())["DB_PASSWORD"] = "hunter2";
  (*td.mutable_containers(0)->mutable_environment())["LOG_LEVEL"] = "info";
  *req.add_task_definitions() = td;
  auto r = api_->Apply(req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->warnings_size(), 1);
  EXPECT_THAT(r->warnings(0), HasSubstr("containers[0].environment.DB_PASSWORD looks like a "
                                        "credential"));
  EXPECT_EQ(r->warnings(0).find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace gantry::testing
