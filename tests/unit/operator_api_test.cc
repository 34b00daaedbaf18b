#include <gmock/gmock.h>

#include "controlplane/api/task_pages.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using ::testing::HasSubstr;

class OperatorApiTest : public ControlPlaneFixture {};

TEST_F(OperatorApiTest, ApplyCreatesRevisionsAndIsIdempotent) {
  auto r = ApplyWeb(3);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->results_size(), 2);
  EXPECT_EQ(r->results(0).name(), "web:1");
  EXPECT_EQ(r->results(0).action(), "created");
  EXPECT_EQ(r->results(1).action(), "created");

  const int64_t rev = store_->Revision();
  r = ApplyWeb(3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->results(0).action(), "unchanged");
  EXPECT_EQ(r->results(1).action(), "unchanged");
  EXPECT_EQ(store_->Revision(), rev) << "an identical apply must write nothing";

  // A changed definition is a new revision, and the service follows it.
  r = ApplyWeb(3, 64 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->results(0).name(), "web:2");
  EXPECT_EQ(r->results(1).action(), "updated");
  EXPECT_EQ(state_->GetService("web")->value.resolved_task_definition(), "web:2");
  // Revision 1 is still there, unchanged.
  EXPECT_EQ(state_->GetTaskDefinition("web", 1)->containers(0).memory(), 32 << 20);
}

TEST_F(OperatorApiTest, NetworkAclsApplyListAndDelete) {
  gantry::v1::ApplyRequest req;
  auto* acl = req.add_network_acls();
  acl->set_name("base");
  auto* rule = acl->add_egress();
  rule->set_number(100);
  rule->set_action("deny");
  rule->set_cidr("169.254.0.0/16");
  auto r = api_->Apply(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->results(0).kind(), "NetworkAcl");
  EXPECT_EQ(r->results(0).action(), "created");
  const int64_t rev = store_->Revision();
  r = api_->Apply(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->results(0).action(), "unchanged");
  EXPECT_EQ(store_->Revision(), rev);
  rule->set_cidr("169.254.0.0/17");
  r = api_->Apply(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->results(0).action(), "updated");
  // Bad rules are refused whole, naming the field.
  rule->set_action("permit");
  r = api_->Apply(req);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("NetworkAcl base: egress[0].action"));
  auto list = api_->ListNetworkAcls();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->network_acls_size(), 1);
  EXPECT_EQ(list->network_acls(0).egress(0).cidr(), "169.254.0.0/17");
  gantry::v1::DeleteNetworkAclRequest del;
  del.set_name("base");
  ASSERT_TRUE(api_->DeleteNetworkAcl(del).ok());
  EXPECT_EQ(api_->DeleteNetworkAcl(del).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(state_->ListNetworkAcls().empty());
}

TEST_F(OperatorApiTest, IngressRulesChangeWithoutADeployment) {
  ASSERT_TRUE(ApplyWeb(2).ok());
  const auto before = state_->GetService("web")->value;
  gantry::v1::ApplyRequest req;
  *req.add_task_definitions() = WebTd(32 << 20);
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web");
  s->set_desired_count(2);
  auto* rule = s->add_ingress();
  rule->set_from_service("api");
  rule->add_ports(8080);
  auto r = api_->Apply(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->results(1).action(), "updated");
  const auto after = state_->GetService("web")->value;
  ASSERT_EQ(after.ingress_size(), 1);
  EXPECT_EQ(after.ingress(0).from_service(), "api");
  EXPECT_EQ(after.deployments_size(), before.deployments_size()) << "tasks keep running";
  rule->set_cidr("10.0.0.0/8");
  r = api_->Apply(req);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("ingress[0]: give exactly one of fromService and cidr"));
}

TEST_F(OperatorApiTest, ServicesCanPinARevision) {
  ASSERT_TRUE(ApplyWeb(1).ok());
  ASSERT_TRUE(ApplyWeb(1, 64 << 20).ok());
  gantry::v1::ApplyRequest req;
  auto* s = req.add_services();
  s->set_name("pinned");
  s->set_task_definition("web:1");
  s->set_desired_count(1);
  ASSERT_TRUE(api_->Apply(req).ok());
  EXPECT_EQ(state_->GetService("pinned")->value.resolved_task_definition(), "web:1");
  s->set_task_definition("web:9");
  auto bad = api_->Apply(req);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("the latest is web:2"));
}

TEST_F(OperatorApiTest, InvalidInputChangesNothing) {
  gantry::v1::ApplyRequest req;
  *req.add_task_definitions() = WebTd();
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web");
  s->set_desired_count(-1);
  auto r = api_->Apply(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "Service web: desiredCount: must be >= 0, got -1");
  EXPECT_EQ(store_->Revision(), 0);

  req.mutable_services(0)->set_desired_count(1);
  req.mutable_services(0)->set_task_definition("nosuch");
  r = api_->Apply(req);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no task definition family nosuch"));
  EXPECT_EQ(store_->Revision(), 0) << "the task definition in the same request is not stored";
}

TEST_F(OperatorApiTest, LoadBalancerPortsBelongToOneService) {
  auto service = [](const std::string& name, int port, int test_port) {
    gantry::v1::Service s;
    s.set_name(name);
    s.set_task_definition("web");
    s.set_desired_count(1);
    s.mutable_load_balancer()->set_port(port);
    s.mutable_load_balancer()->set_target_port("http");
    s.mutable_load_balancer()->set_test_port(test_port);
    return s;
  };
  gantry::v1::ApplyRequest req;
  *req.add_task_definitions() = WebTd();
  *req.add_services() = service("web", 8080, 8081);
  ASSERT_TRUE(api_->Apply(req).ok());
  const int64_t rev = store_->Revision();

  gantry::v1::ApplyRequest other;
  *other.add_services() = service("api", 8081, 0);
  auto r = api_->Apply(other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "Service api: loadBalancer.port: port 8081 is already the loadBalancer.testPort of "
            "service web; choose a free port");
  EXPECT_EQ(store_->Revision(), rev);
  // Two services of one request cannot share a port either.
  *other.mutable_services(0) = service("api", 9090, 0);
  *other.add_services() = service("admin", 9091, 9090);
  r = api_->Apply(other);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("port 9090 is already"));
  // A port a service gives up in the same request is free for another.
  other.clear_services();
  *other.add_services() = service("web", 8082, 8083);
  *other.add_services() = service("api", 8080, 0);
  EXPECT_TRUE(api_->Apply(other).ok());
}

TEST_F(OperatorApiTest, ScaleAndDelete) {
  ASSERT_TRUE(ApplyWeb(3).ok());
  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(5);
  auto s = api_->ScaleService(scale);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->desired_count(), 5);
  scale.set_desired_count(-2);
  EXPECT_FALSE(api_->ScaleService(scale).ok());
  scale.set_name("nosuch");
  scale.set_desired_count(1);
  EXPECT_EQ(api_->ScaleService(scale).status().code(), absl::StatusCode::kNotFound);

  gantry::v1::DeleteServiceRequest del;
  del.set_name("web");
  auto d = api_->DeleteService(del);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status(), gantry::v1::Service::DELETING);
  // Applying it again while it is being deleted is refused with advice.
  auto again = ApplyWeb(3);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("being deleted"));
  scale.set_name("web");
  EXPECT_FALSE(api_->ScaleService(scale).ok());
}

TEST_F(OperatorApiTest, ReadsAndEvents) {
  Register("n1", "a");
  ASSERT_TRUE(ApplyWeb(2).ok());
  auto nodes = api_->ListNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->nodes_size(), 1);
  EXPECT_TRUE(nodes->nodes(0).connected());
  gantry::v1::GetTaskDefinitionRequest get;
  get.set_reference("web");
  EXPECT_EQ(api_->GetTaskDefinition(get)->revision(), 1);
  get.set_reference("web:7");
  EXPECT_EQ(api_->GetTaskDefinition(get).status().code(), absl::StatusCode::kNotFound);
  gantry::v1::ListEventsRequest ev;
  ev.set_service("web");
  auto events = api_->ListEvents(ev);
  ASSERT_TRUE(events.ok());
  ASSERT_GE(events->events_size(), 1);
  EXPECT_EQ(events->events(0).message(), "Service web created");
  // Following: everything after an id, however many, beyond the limit.
  const int64_t seen = events->events(events->events_size() - 1).id();
  for (int i = 0; i < 30; ++i) events_->Record("web", "", "", absl::StrCat("step ", i));
  ev.set_limit(5);
  ev.set_after_id(seen);
  events = api_->ListEvents(ev);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->events_size(), 30);
  EXPECT_EQ(events->events(0).message(), "step 0");
  EXPECT_EQ(events->events(29).message(), "step 29");
  ev.set_after_id(0);
  EXPECT_EQ(api_->ListEvents(ev)->events_size(), 5);
}

TEST_F(OperatorApiTest, TaskPagesAreBoundedAndTokensChecked) {
  gantry::v1::ListTasksRequest req;
  req.set_page_size(api::kMaxTaskPageSize + 1);
  auto r = api_->ListTasks(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "page_size: must be between 0 and 5000, got 5001");
  req.set_page_size(0);
  req.set_page_token("not-a-token");
  r = api_->ListTasks(req);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("page_token: not a token"));
  // A token is where the last page ended, whatever came and went since.
  gantry::v1::Task last;
  last.set_service("web");
  last.set_id("0123abcd");
  last.mutable_created_at()->set_seconds(1700000000);
  last.mutable_created_at()->set_nanos(5);
  auto key = api::DecodeTaskPageToken(api::EncodeTaskPageToken(last));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(*key == state::ClusterState::TaskOrderKey::Of(last));
  req.set_page_token(api::EncodeTaskPageToken(last));
  r = api_->ListTasks(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tasks_size(), 0);
  EXPECT_EQ(r->next_page_token(), "");
}

}  // namespace
}  // namespace gantry::testing
