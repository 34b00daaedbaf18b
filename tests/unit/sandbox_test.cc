#include "common/spec/sandbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "controlplane/api/permissions.h"
#include "controlplane/identity/authorizer.h"
#include "ctl/spec_parser.h"

namespace gantry::spec {
namespace {

using gantry::v1::ContainerDefinition;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

ContainerDefinition Container() {
  ContainerDefinition c;
  c.set_name("app");
  c.set_image("example.org/demo/busybox:1");
  c.set_cpu(100);
  c.set_memory(32 << 20);
  return c;
}

std::string Problems(const ContainerDefinition& c) {
  std::vector<FieldError> errors;
  ValidateSandbox(c, "containers[0]", errors);
  std::string out;
  for (const auto& e : errors) out += e.field + ": " + e.problem + "\n";
  return out;
}

TEST(Capabilities, DefaultSetHasNoRawSocketsAndNoAdmin) {
  const auto caps = EffectiveCapabilities(Container());
  EXPECT_THAT(caps, Not(Contains("CAP_NET_RAW")));
  EXPECT_THAT(caps, Not(Contains("CAP_SYS_ADMIN")));
  EXPECT_THAT(caps, Not(Contains("CAP_NET_ADMIN")));
  EXPECT_THAT(caps, Contains("CAP_NET_BIND_SERVICE"));
  EXPECT_TRUE(AddedCapabilities(Container()).empty());
}

TEST(Capabilities, AddAndDropInAnySpelling) {
  ContainerDefinition c = Container();
  auto* caps = c.mutable_linux_parameters()->mutable_capabilities();
  caps->add_add("net_admin");
  caps->add_add("CAP_NET_ADMIN");
  caps->add_add("CHOWN");  // already in the default set: needs no permission
  caps->add_drop("SETUID");
  const auto effective = EffectiveCapabilities(c);
  EXPECT_THAT(effective, Contains("CAP_NET_ADMIN"));
  EXPECT_THAT(effective, Not(Contains("CAP_SETUID")));
  EXPECT_EQ(std::count(effective.begin(), effective.end(), "CAP_NET_ADMIN"), 1);
  EXPECT_EQ(AddedCapabilities(c), std::vector<std::string>{"NET_ADMIN"});
  EXPECT_EQ(Problems(c), "");
}

TEST(Capabilities, DropAllKeepsOnlyWhatIsAdded) {
  ContainerDefinition c = Container();
  auto* caps = c.mutable_linux_parameters()->mutable_capabilities();
  caps->add_drop("ALL");
  caps->add_add("NET_BIND_SERVICE");
  EXPECT_EQ(EffectiveCapabilities(c), std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
  EXPECT_TRUE(AddedCapabilities(c).empty());
}

TEST(ValidateSandbox, RefusesUnknownCapabilitiesByField) {
  ContainerDefinition c = Container();
  auto* caps = c.mutable_linux_parameters()->mutable_capabilities();
  caps->add_add("NET_ADMIN");
  caps->add_add("SUPERPOWERS");
  caps->add_drop("ALL");
  caps->add_add("ALL");
  const std::string p = Problems(c);
  EXPECT_THAT(p, HasSubstr("containers[0].linuxParameters.capabilities.add[1]: \"SUPERPOWERS\" "
                           "is not a Linux capability"));
  EXPECT_THAT(p, HasSubstr("capabilities.add[2]: \"ALL\""));
  EXPECT_THAT(p, Not(HasSubstr("drop")));
}

TEST(ValidateSandbox, PidsUserAndUlimits) {
  ContainerDefinition c = Container();
  c.set_pids_limit(-1);
  c.set_user("app:staff:extra");
  auto* u = c.add_ulimits();
  u->set_name("nofile");
  u->set_soft_limit(4096);
  u->set_hard_limit(1024);
  *c.add_ulimits() = *u;
  c.add_ulimits()->set_name("files");
  const std::string p = Problems(c);
  EXPECT_THAT(p, HasSubstr("containers[0].pidsLimit: must be between 1 and 4194304"));
  EXPECT_THAT(p, HasSubstr("containers[0].user: expected NAME, UID, NAME:GROUP or UID:GID"));
  EXPECT_THAT(p, HasSubstr("containers[0].ulimits[0].softLimit: 4096 is above hardLimit 1024"));
  EXPECT_THAT(p, HasSubstr("containers[0].ulimits[1].name: \"nofile\" is set twice"));
  EXPECT_THAT(p, HasSubstr("containers[0].ulimits[2].name: \"files\" is not a resource limit"));
}

TEST(ValidateSandbox, UserForms) {
  for (const char* ok : {"nobody", "1000", "1000:1000", "app:staff", "www-data", "svc.user_1"}) {
    EXPECT_EQ(UserProblem(ok), "") << ok;
  }
  EXPECT_THAT(UserProblem("app:"), HasSubstr("group is empty"));
  EXPECT_THAT(UserProblem("4294967295"), HasSubstr("out of range"));
  EXPECT_THAT(UserProblem("a/b"), HasSubstr("may hold only"));
  EXPECT_EQ(NumericId("65534"), 65534u);
  EXPECT_EQ(NumericId("nobody"), std::nullopt);
  EXPECT_EQ(SplitUser("app:staff").group, "staff");
}

TEST(ValidateTaskDefinition, DefaultsThePidsLimit) {
  gantry::v1::TaskDefinition td;
  td.set_family("web");
  *td.add_containers() = Container();
  ApplyDefaults(td);
  EXPECT_EQ(td.containers(0).pids_limit(), kDefaultPidsLimit);
  EXPECT_EQ(RlimitType("nofile"), "RLIMIT_NOFILE");
  EXPECT_EQ(RlimitType("NOFILE"), std::nullopt);
}

TEST(SandboxPermissions, AddingACapabilityNeedsUseOnIt) {
  gantry::v1::ApplyRequest req;
  auto* td = req.add_task_definitions();
  td->set_family("tools");
  ContainerDefinition c = Container();
  c.mutable_linux_parameters()->mutable_capabilities()->add_add("NET_ADMIN");
  *td->add_containers() = c;
  bool found = false;
  for (const auto& p : api::ApplyPermissions(req)) {
    found |=
        p.verb == identity::Verb::kUse && p.resource == "capabilities" && p.name == "NET_ADMIN";
  }
  EXPECT_TRUE(found);
  identity::Authorizer authz;
  identity::Identity deployer{.name = "ci", .role = "deployer"};
  identity::Identity admin{.name = "root", .role = "admin"};
  const identity::Permission use{identity::Verb::kUse, "capabilities", "NET_ADMIN"};
  EXPECT_FALSE(authz.Allowed(deployer, use));
  EXPECT_TRUE(authz.Allowed(admin, use));
}

TEST(SandboxPermissions, HostNetworkingNeedsUseOnIt) {
  gantry::v1::ApplyRequest req;
  auto* td = req.add_task_definitions();
  td->set_family("agent");
  td->set_network_mode("host");
  *td->add_containers() = Container();
  bool found = false;
  for (const auto& p : api::ApplyPermissions(req)) {
    found |= p.verb == identity::Verb::kUse && p.resource == "networks" && p.name == "host";
  }
  EXPECT_TRUE(found);
  td->set_network_mode("task");
  for (const auto& p : api::ApplyPermissions(req)) EXPECT_NE(p.resource, "networks");
  identity::Authorizer authz;
  identity::Identity deployer{.name = "ci", .role = "deployer"};
  EXPECT_FALSE(authz.Allowed(deployer, {identity::Verb::kUse, "networks", "host"}));
  auto parsed = ctl::ParseSpecs(
      "kind: TaskDefinition\nfamily: t\nnetworkMode: task\ncontainers:\n"
      "  - {name: a, image: example.org/demo/busybox:1, cpu: 100m, memory: 32Mi}\n",
      "t.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->task_definitions(0).network_mode(), "task");
}

TEST(SandboxParser, ReadsTheFieldsAndNamesBadOnes) {
  constexpr char kDoc[] = R"(kind: TaskDefinition
family: tools
containers:
  - name: app
    image: example.org/demo/busybox:1
    cpu: 100m
    memory: 32Mi
    pidsLimit: 64
    readonlyRootFilesystem: true
    user: nobody
    ulimits: [{name: nofile, softLimit: 1024}]
    linuxParameters: {capabilities: {add: [NET_ADMIN], drop: [ALL]}}
)";
  auto req = ctl::ParseSpecs(kDoc, "tools.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  const auto& c = req->task_definitions(0).containers(0);
  EXPECT_EQ(c.pids_limit(), 64);
  EXPECT_TRUE(c.readonly_root_filesystem());
  EXPECT_EQ(c.user(), "nobody");
  ASSERT_EQ(c.ulimits_size(), 1);
  EXPECT_EQ(c.ulimits(0).hard_limit(), 1024);
  EXPECT_EQ(c.linux_parameters().capabilities().add(0), "NET_ADMIN");

  std::string bad = kDoc;
  bad.replace(bad.find("[NET_ADMIN]"), 11, "[NET_WIZARD]");
  auto refused = ctl::ParseSpecs(bad, "tools.yaml");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("tools.yaml: document 1 (TaskDefinition tools): "
                        "containers[0].linuxParameters.capabilities.add[0]: \"NET_WIZARD\""));
  bad = kDoc;
  bad.replace(bad.find("pidsLimit: 64"), 13, "pidsLimit: 0");
  refused = ctl::ParseSpecs(bad, "tools.yaml");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("containers[0].pidsLimit"));
}

}  // namespace
}  // namespace gantry::spec
