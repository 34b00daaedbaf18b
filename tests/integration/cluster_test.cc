// Control plane and three agents in one process, talking real gRPC over
// loopback, with fake container runtimes. Waits poll for a condition with a
// generous deadline; nothing asserts on timing.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "common/files.h"
#include "common/tls.h"
#include "controlplane/control_plane.h"
#include "gantry/v1/operator.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/integration/cluster_fixture.h"

namespace gantry {
namespace {

using gantry::v1::Task;

constexpr char kImage[] = "example.org/demo/busybox:1";

using testing::WaitFor;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("cluster");
    StartControlPlane("127.0.0.1:0");
    address_ = "127.0.0.1:" + std::to_string(cp_->port());
    for (const char* zone : {"a", "b", "c"}) {
      const std::string name = std::string("node-") + zone;
      runtimes_[name] = std::make_unique<agent::FakeRuntime>();
      runtimes_[name]->AddImage(kImage);
      StartAgent(name, zone);
    }
    // The operator API over TLS with the bootstrap admin token, as gantryctl.
    stub_ = testing::OperatorStub(address_, cp_->pki().ca_pem(), admin_token_);
    ASSERT_TRUE(WaitFor([&] { return ConnectedNodes() == 3; }));
  }

  void TearDown() override {
    agents_.clear();
    if (cp_) cp_->Shutdown();
    cp_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartControlPlane(const std::string& listen) {
    ControlPlane::Options o;
    o.listen = listen;
    o.data_dir = (dir_ / "cp").string();
    o.nodes.heartbeat_interval = absl::Milliseconds(200);
    o.controller.resync_interval = absl::Milliseconds(500);
    o.controller.backoff_base = absl::Milliseconds(100);
    auto cp = ControlPlane::Start(o, RealClock::Get());
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = std::move(*cp);
    // Only the first start creates it; restarts on the same store reuse it.
    if (!cp_->bootstrap_token().empty()) admin_token_ = cp_->bootstrap_token();
  }

  // The real join flow: a one-time token for the node, and the CA found
  // through its pin, as `gantry-agent --join-token --ca-hash` does.
  // A restarted agent reuses its certificate and needs no token.
  std::shared_ptr<agent::NodeIdentity> Join(const std::string& name) {
    agent::NodeIdentity::Options o;
    o.data_dir = (dir_ / name).string();
    o.node_name = name;
    o.controlplane = address_;
    if (auto joined = agent::NodeIdentity::Establish(o, RealClock::Get()); joined.ok()) {
      return std::move(*joined);
    }
    auto token = cp_->tokens()->CreateJoinToken(name, absl::ZeroDuration());
    EXPECT_TRUE(token.ok()) << token.status();
    o.join_token = token->token();
    o.ca_hash = cp_->pki().ca_hash();
    auto id = agent::NodeIdentity::Establish(o, RealClock::Get());
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? std::move(*id) : nullptr;
  }

  void StartAgent(const std::string& name, const std::string& zone) {
    agent::Agent::Options o =
        testing::TestAgentOptions(name, zone, dir_ / name, address_, 2000, int64_t{2} << 30, 21000);
    o.identity = Join(name);
    ASSERT_NE(o.identity, nullptr);
    auto a = std::make_unique<agent::Agent>(runtimes_[name].get(), RealClock::Get(), o);
    ASSERT_TRUE(a->Start().ok());
    agents_[name] = std::move(a);
  }

  int ConnectedNodes() {
    grpc::ClientContext ctx;
    gantry::v1::ListNodesResponse resp;
    if (!stub_->ListNodes(&ctx, {}, &resp).ok()) return -1;
    int n = 0;
    for (const auto& node : resp.nodes()) n += node.connected() ? 1 : 0;
    return n;
  }

  grpc::Status Apply(int count, const std::string& command = "httpd") {
    gantry::v1::ApplyRequest req;
    auto* td = req.add_task_definitions();
    td->set_family("web");
    td->set_network_mode("host");  // the fake runtime's agents have no task networking
    auto* c = td->add_containers();
    c->set_name("httpd");
    c->set_image(kImage);
    c->add_command(command);
    c->set_cpu(100);
    c->set_memory(32 << 20);
    c->add_port_mappings()->set_name("http");
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(count);
    grpc::ClientContext ctx;
    gantry::v1::ApplyResponse resp;
    return stub_->Apply(&ctx, req, &resp);
  }

  std::vector<Task> Tasks() {
    grpc::ClientContext ctx;
    gantry::v1::ListTasksRequest req;
    req.set_service("web");
    gantry::v1::ListTasksResponse resp;
    EXPECT_TRUE(stub_->ListTasks(&ctx, req, &resp).ok());
    return {resp.tasks().begin(), resp.tasks().end()};
  }

  int Running() {
    int n = 0;
    for (const auto& t : Tasks()) n += t.last_status() == Task::RUNNING ? 1 : 0;
    return n;
  }

  size_t Containers() {
    size_t n = 0;
    for (auto& [name, rt] : runtimes_) n += rt->RunningIds().size();
    return n;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ControlPlane> cp_;
  std::string address_;
  std::map<std::string, std::unique_ptr<agent::FakeRuntime>> runtimes_;
  std::map<std::string, std::unique_ptr<agent::Agent>> agents_;
  std::unique_ptr<gantry::v1::OperatorService::Stub> stub_;
  std::string admin_token_;
};

TEST_F(ClusterTest, ServiceRunsSpreadScalesAndIsDeleted) {
  ASSERT_TRUE(Apply(6).ok());
  ASSERT_TRUE(WaitFor([&] { return Running() == 6; }));
  for (auto& [name, rt] : runtimes_) {
    EXPECT_EQ(rt->RunningIds().size(), 2u) << name << " should run two of the six";
  }
  std::map<std::string, int> per_zone;
  for (const auto& t : Tasks()) per_zone[t.zone()]++;
  EXPECT_EQ(per_zone, (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));

  grpc::ClientContext sctx;
  gantry::v1::ScaleServiceRequest scale;
  scale.set_name("web");
  scale.set_desired_count(3);
  gantry::v1::Service out;
  ASSERT_TRUE(stub_->ScaleService(&sctx, scale, &out).ok());
  ASSERT_TRUE(WaitFor([&] { return Containers() == 3 && Running() == 3; }));

  grpc::ClientContext dctx;
  gantry::v1::DeleteServiceRequest del;
  del.set_name("web");
  ASSERT_TRUE(stub_->DeleteService(&dctx, del, &out).ok());
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext ctx;
    gantry::v1::GetServiceRequest get;
    get.set_name("web");
    gantry::v1::Service s;
    return stub_->GetService(&ctx, get, &s).error_code() == grpc::StatusCode::NOT_FOUND;
  }));
  for (auto& [name, rt] : runtimes_) EXPECT_TRUE(rt->AllIds().empty()) << name;
}

// Desired sets above gRPC's default 4 MiB once broke the agents' streams for
// good; they now go in parts, and task lists come in pages.
TEST_F(ClusterTest, LargeDesiredSetsArriveInPartsAndTasksListInPages) {
  gantry::v1::ApplyRequest req;
  auto* td = req.add_task_definitions();
  td->set_family("big");
  td->set_network_mode("host");
  auto* c = td->add_containers();
  c->set_name("app");
  c->set_image(kImage);
  c->set_memory(4 << 20);
  (*c->mutable_environment())["PAYLOAD"] = std::string(60000, 'x');
  auto* s = req.add_services();
  s->set_name("big");
  s->set_task_definition("big");
  s->set_desired_count(240);  // 80 tasks of 60 kB a node: about 4.8 MB each set
  grpc::ClientContext ctx;
  gantry::v1::ApplyResponse resp;
  ASSERT_TRUE(stub_->Apply(&ctx, req, &resp).ok());
  ASSERT_TRUE(WaitFor([&] { return Containers() == 240; }));
  for (auto& [name, rt] : runtimes_) EXPECT_EQ(rt->RunningIds().size(), 80u) << name;

  std::set<std::string> listed;
  gantry::v1::ListTasksRequest page;
  page.set_service("big");
  page.set_page_size(50);
  int pages = 0;
  for (;;) {
    grpc::ClientContext pctx;
    gantry::v1::ListTasksResponse got;
    ASSERT_TRUE(stub_->ListTasks(&pctx, page, &got).ok());
    ++pages;
    EXPECT_LE(got.tasks_size(), 50);
    for (const auto& t : got.tasks()) EXPECT_TRUE(listed.insert(t.id()).second) << t.id();
    if (got.next_page_token().empty()) break;
    page.set_page_token(got.next_page_token());
  }
  EXPECT_EQ(listed.size(), 240u);
  EXPECT_EQ(pages, 5);
}

TEST_F(ClusterTest, ACrashedTaskIsReplaced) {
  ASSERT_TRUE(Apply(3).ok());
  ASSERT_TRUE(WaitFor([&] { return Running() == 3; }));
  const Task victim = Tasks()[0];
  runtimes_[victim.node()]->Exit(victim.id() + "-httpd", 2);
  ASSERT_TRUE(WaitFor([&] {
    const auto tasks = Tasks();
    bool replaced = true;
    for (const auto& t : tasks) replaced &= t.id() != victim.id();
    return replaced && Running() == 3;
  }));
  grpc::ClientContext ctx;
  gantry::v1::GetTaskRequest get;
  get.set_id(victim.id());
  Task stopped;
  const grpc::Status got = stub_->GetTask(&ctx, get, &stopped);
  ASSERT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(stopped.last_status(), Task::STOPPED);
  EXPECT_EQ(stopped.stopped_reason(),
            "EssentialContainerExited: essential container httpd exited with code 2");
}

TEST_F(ClusterTest, AgentRestartAdoptsItsContainers) {
  ASSERT_TRUE(Apply(6).ok());
  ASSERT_TRUE(WaitFor([&] { return Running() == 6; }));
  const int creates = runtimes_["node-a"]->creates();
  const auto before = runtimes_["node-a"]->RunningIds();
  agents_["node-a"]->Stop();
  agents_.erase("node-a");
  StartAgent("node-a", "a");
  ASSERT_TRUE(WaitFor([&] { return ConnectedNodes() == 3; }));
  // Once it has applied a desired set, two more whole passes prove that
  // nothing changes.
  auto* r = agents_["node-a"]->reconciler();
  ASSERT_TRUE(WaitFor([&] { return r->applied_sequence() > 0; }));
  const int64_t passes = r->passes();
  ASSERT_TRUE(WaitFor([&] { return r->passes() >= passes + 2; }));
  EXPECT_EQ(runtimes_["node-a"]->creates(), creates);
  EXPECT_EQ(runtimes_["node-a"]->RunningIds(), before);
  EXPECT_EQ(Running(), 6);
}

TEST_F(ClusterTest, ControlPlaneRestartLosesAndRestartsNothing) {
  ASSERT_TRUE(Apply(6).ok());
  ASSERT_TRUE(WaitFor([&] { return Running() == 6; }));
  std::set<std::string> ids;
  for (const auto& t : Tasks()) ids.insert(t.id());
  int creates = 0;
  for (auto& [n, rt] : runtimes_) creates += rt->creates();

  cp_->Shutdown();
  cp_.reset();
  StartControlPlane(address_);
  ASSERT_TRUE(WaitFor([&] { return ConnectedNodes() == 3; }));
  ASSERT_TRUE(WaitFor([&] { return Running() == 6; }));
  std::set<std::string> after;
  for (const auto& t : Tasks()) after.insert(t.id());
  EXPECT_EQ(after, ids);
  int creates_after = 0;
  for (auto& [n, rt] : runtimes_) creates_after += rt->creates();
  EXPECT_EQ(creates_after, creates);
}

TEST_F(ClusterTest, LogsAreRelayedFromTheAgent) {
  ASSERT_TRUE(Apply(1).ok());
  ASSERT_TRUE(WaitFor([&] { return Running() == 1; }));
  const Task t = Tasks()[0];
  // The fake runtime writes nothing; put output where the shim would.
  const std::string path = agents_[t.node()]->reconciler()->LogPath(t.id(), "httpd");
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << "line 1\nline 2\nline 3\n";

  grpc::ClientContext ctx;
  gantry::v1::GetLogsRequest req;
  req.set_task_id(t.id().substr(0, 8));
  req.set_tail_lines(2);
  auto reader = stub_->GetLogs(&ctx, req);
  std::string got;
  gantry::v1::LogChunk chunk;
  while (reader->Read(&chunk)) got += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, "line 2\nline 3\n");

  grpc::ClientContext bad_ctx;
  req.set_container("nosuch");
  auto bad = stub_->GetLogs(&bad_ctx, req);
  while (bad->Read(&chunk)) {
  }
  const grpc::Status st = bad->Finish();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("no container nosuch"));
}

// The node's clock runs 17 of the certificate's 24 hours ahead; the agent
// renews with its current certificate, no token, and the new one is stored
// for the next start.
TEST_F(ClusterTest, ANodeRenewsItsCertificateAtTwoThirdsOfItsLife) {
  FakeClock clock(absl::Now());
  agent::NodeIdentity::Options o;
  o.data_dir = (dir_ / "node-a").string();
  o.node_name = "node-a";
  o.controlplane = address_;
  auto id = agent::NodeIdentity::Establish(o, &clock);
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string cert_file = (dir_ / "node-a" / "identity" / "node.pem").string();
  auto before = ReadWholeFile(cert_file);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE((*id)->RenewIfDue().ok());
  EXPECT_EQ(*ReadWholeFile(cert_file), *before) << "not due yet";
  clock.Advance(absl::Hours(17));
  ASSERT_TRUE((*id)->RenewIfDue().ok());
  auto after = ReadWholeFile(cert_file);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *before) << "a new certificate is stored for the next start";
  auto again = agent::NodeIdentity::Establish(o, &clock);
  ASSERT_TRUE(again.ok()) << again.status();
  // The control plane's clock (real time) dates the new certificate.
  EXPECT_GE((*again)->expires_at(), (*id)->expires_at());
}

// The identity issue's custom role, through the real token flow: an admin
// applies a Role and makes a token with it; the token scales web* and does
// nothing else, and nothing at all once the role is deleted.
TEST_F(ClusterTest, ACustomRoleGrantsOnlyItsRules) {
  ASSERT_TRUE(Apply(1).ok());
  gantry::v1::ApplyRequest req;
  auto* role = req.add_roles();
  role->set_name("web-scaler");
  auto* rule = role->add_rules();
  rule->add_verbs("scale");
  rule->add_resources("services");
  rule->add_names("web*");
  auto* db = req.add_services();
  db->set_name("db");
  db->set_task_definition("web");
  db->set_desired_count(0);
  {
    grpc::ClientContext ctx;
    gantry::v1::ApplyResponse resp;
    const grpc::Status st = stub_->Apply(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  gantry::v1::CreateTokenRequest create;
  create.set_role("web-scalr");
  gantry::v1::CreateTokenResponse token;
  {
    grpc::ClientContext ctx;
    const grpc::Status st = stub_->CreateToken(&ctx, create, &token);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), ::testing::HasSubstr("\"web-scalr\" is not a role"));
  }
  create.set_role("web-scaler");
  create.set_description("ci-web");
  {
    grpc::ClientContext ctx;
    const grpc::Status st = stub_->CreateToken(&ctx, create, &token);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ClientTls tls;
  tls.ca_pem = cp_->pki().ca_pem();
  const ClientChannel channel = MakeClientChannel(tls, token.token());
  auto ci = gantry::v1::OperatorService::NewStub(
      grpc::CreateCustomChannel(address_, channel.credentials, channel.arguments));
  auto scale = [&](const std::string& name) {
    grpc::ClientContext ctx;
    gantry::v1::ScaleServiceRequest r;
    r.set_name(name);
    r.set_desired_count(2);
    gantry::v1::Service out;
    return ci->ScaleService(&ctx, r, &out);
  };
  EXPECT_TRUE(scale("web").ok());
  grpc::Status st = scale("db");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "token \"ci-web\" (role web-scaler) may not scale service db");
  {
    // Nor may it widen its own role.
    gantry::v1::ApplyRequest wider;
    *wider.add_roles() = req.roles(0);
    wider.mutable_roles(0)->mutable_rules(0)->add_verbs("apply");
    grpc::ClientContext ctx;
    gantry::v1::ApplyResponse resp;
    st = ci->Apply(&ctx, wider, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(st.error_message(),
                ::testing::HasSubstr("token \"ci-web\" (role web-scaler) may not apply role "
                                     "web-scaler: only the built-in admin role may"));
  }
  {
    grpc::ClientContext ctx;
    gantry::v1::ApplyResponse resp;
    st = ci->Apply(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(st.error_message(), ::testing::HasSubstr("may not apply service db"));
  }

  gantry::v1::DeleteRoleRequest del;
  del.set_name("web-scaler");
  gantry::v1::DeleteRoleResponse deleted;
  {
    grpc::ClientContext ctx;
    st = stub_->DeleteRole(&ctx, del, &deleted);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_THAT(deleted.tokens(), ::testing::ElementsAre(token.info().accessor()));
  st = scale("web");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("role web-scaler no longer exists"));
}

TEST_F(ClusterTest, JoiningNeedsAFreshTokenAndTheRightCa) {
  auto token = cp_->tokens()->CreateJoinToken("node-x", absl::ZeroDuration());
  ASSERT_TRUE(token.ok());
  agent::NodeIdentity::Options o;
  o.data_dir = (dir_ / "node-x").string();
  o.node_name = "node-x";
  o.controlplane = address_;
  o.join_token = token->token();
  o.ca_hash = "sha256:" + std::string(64, '0');  // not this cluster's CA
  auto wrong_ca = agent::NodeIdentity::Establish(o, RealClock::Get());
  ASSERT_FALSE(wrong_ca.ok());
  EXPECT_THAT(std::string(wrong_ca.status().message()), ::testing::HasSubstr("sha256:000"));
  o.ca_hash = cp_->pki().ca_hash();
  ASSERT_TRUE(agent::NodeIdentity::Establish(o, RealClock::Get()).ok());
  o.data_dir = (dir_ / "node-x-again").string();
  auto reused = agent::NodeIdentity::Establish(o, RealClock::Get());
  ASSERT_FALSE(reused.ok());
  EXPECT_THAT(std::string(reused.status().message()), ::testing::HasSubstr("already used"));
}

// The audit trail of a session: joins and registrations, a refused apply, a
// scale, a log read; kept in memory and in DATA_DIR/audit.log (0600), and
// never a token's secret.
TEST_F(ClusterTest, TheAuditLogRecordsChangesRefusalsAndJoinsButNoSecrets) {
  auto viewer = cp_->tokens()->CreateToken("viewer", "", absl::ZeroDuration(), "dashboard");
  ASSERT_TRUE(viewer.ok()) << viewer.status();
  ClientTls tls;
  tls.ca_pem = cp_->pki().ca_pem();
  const ClientChannel channel = MakeClientChannel(tls, viewer->token());
  auto as_viewer = gantry::v1::OperatorService::NewStub(
      grpc::CreateCustomChannel(address_, channel.credentials, channel.arguments));
  {
    grpc::ClientContext ctx;
    gantry::v1::ApplyRequest req;
    req.add_services()->set_name("web");
    gantry::v1::ApplyResponse resp;
    EXPECT_EQ(as_viewer->Apply(&ctx, req, &resp).error_code(), grpc::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    gantry::v1::ListServicesResponse resp;
    EXPECT_TRUE(as_viewer->ListServices(&ctx, {}, &resp).ok()) << "reads are not recorded";
  }
  ASSERT_TRUE(Apply(1).ok());
  // Scaling while the controller writes the new deployment can run out of
  // retries on a stale cache (see ClusterState::UpdateObject); wait.
  ASSERT_TRUE(WaitFor([&] { return Running() == 1; }));
  {
    grpc::ClientContext ctx;
    gantry::v1::ScaleServiceRequest req;
    req.set_name("web");
    req.set_desired_count(2);
    gantry::v1::Service resp;
    const grpc::Status scaled = stub_->ScaleService(&ctx, req, &resp);
    ASSERT_TRUE(scaled.ok()) << scaled.error_message();
  }

  audit::Query query;
  query.identity = "dashboard";
  auto viewer_records = cp_->audit_log().Find(query);
  ASSERT_EQ(viewer_records.size(), 1u);
  EXPECT_EQ(viewer_records[0].method, "Apply");
  EXPECT_EQ(viewer_records[0].outcome, "PERMISSION_DENIED");
  EXPECT_EQ(viewer_records[0].role, "viewer");
  EXPECT_EQ(viewer_records[0].accessor, viewer->info().accessor());
  EXPECT_THAT(viewer_records[0].peer, ::testing::StartsWith("127.0.0.1:"));

  std::vector<std::string> seen;
  for (const auto& e : cp_->audit_log().Find({})) {
    seen.push_back(e.method + " " + e.object + " " + e.outcome);
  }
  for (const char* name : {"node-a", "node-b", "node-c"}) {
    EXPECT_THAT(seen, ::testing::Contains(absl::StrCat("Join nodes/", name, " OK")));
    EXPECT_THAT(seen, ::testing::Contains(absl::StrCat("Connect nodes/", name, " OK")));
  }
  EXPECT_THAT(seen,
              ::testing::Contains("Apply taskdefinitions/web, networks/host, services/web OK"));
  EXPECT_THAT(seen, ::testing::Contains("ScaleService services/web OK"));
  EXPECT_THAT(seen, ::testing::Not(::testing::Contains(::testing::HasSubstr("ListServices"))));

  const std::string file = (dir_ / "cp" / "audit.log").string();
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto text = ReadWholeFile(file);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, ::testing::HasSubstr("\"method\":\"ScaleService\""));
  const std::string viewer_secret = viewer->token().substr(viewer->token().rfind('_') + 1);
  const std::string admin_secret = admin_token_.substr(admin_token_.rfind('_') + 1);
  EXPECT_EQ(text->find(viewer_secret), std::string::npos);
  EXPECT_EQ(text->find(admin_secret), std::string::npos);
}

}  // namespace
}  // namespace gantry
