// Two control plane replicas in one process on a real etcd (started by the
// test), with an agent on a fake runtime: one leader, fencing, failover.
// Waits poll for a condition with a generous deadline; nothing asserts on
// timing.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "agent/agent.h"
#include "common/tls.h"
#include "controlplane/control_plane.h"
#include "controlplane/ha/etcd_election.h"
#include "controlplane/ha/fenced_store.h"
#include "gantry/v1/operator.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/support/etcd_server.h"

namespace gantry {
namespace {

using gantry::v1::Task;

constexpr char kImage[] = "example.org/demo/busybox:1";

using testing::WaitFor;

class HaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("ha");
    auto etcd = testing::EtcdServer::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
  }

  void TearDown() override {
    agent_.reset();
    for (auto& cp : cps_) {
      if (cp) cp->Shutdown();
    }
    cps_.clear();
    etcd_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Replica `i`; the second and later share the first one's PKI, as
  // --pki-dir does.
  ControlPlane* StartReplica(int i) {
    ControlPlane::Options o;
    o.listen = "127.0.0.1:0";
    o.data_dir = (dir_ / ("cp" + std::to_string(i))).string();
    o.pki_dir = (dir_ / "pki").string();
    o.store = etcd_->url();
    o.replica_name = "cp" + std::to_string(i);
    o.nodes.heartbeat_interval = absl::Milliseconds(200);
    o.controller.resync_interval = absl::Milliseconds(500);
    o.controller.backoff_base = absl::Milliseconds(100);
    o.on_lost_leadership = [this] { lost_++; };
    auto cp = ControlPlane::Start(o, RealClock::Get());
    EXPECT_TRUE(cp.ok()) << cp.status();
    if (!cp.ok()) return nullptr;
    if (!(*cp)->bootstrap_token().empty()) admin_token_ = (*cp)->bootstrap_token();
    cps_.push_back(std::move(*cp));
    return cps_.back().get();
  }

  static std::string Address(const ControlPlane* cp) {
    return "127.0.0.1:" + std::to_string(cp->port());
  }

  std::unique_ptr<gantry::v1::OperatorService::Stub> Operator(const ControlPlane* cp) {
    return testing::OperatorStub(Address(cp), cp->pki().ca_pem(), admin_token_);
  }

  // One agent that knows both replicas, the follower first.
  void StartAgent(const std::string& controlplanes, ControlPlane* any) {
    agent::NodeIdentity::Options id;
    id.data_dir = (dir_ / "node-a").string();
    id.node_name = "node-a";
    id.controlplane = controlplanes;
    auto token = any->tokens()->CreateJoinToken("node-a", absl::ZeroDuration());
    ASSERT_TRUE(token.ok()) << token.status();
    id.join_token = token->token();
    id.ca_hash = any->pki().ca_hash();
    auto identity = agent::NodeIdentity::Establish(id, RealClock::Get());
    ASSERT_TRUE(identity.ok()) << identity.status();
    agent::Agent::Options o = testing::TestAgentOptions(
        "node-a", "a", dir_ / "node-a", controlplanes, 4000, int64_t{4} << 30, 22000);
    o.identity = std::move(*identity);
    runtime_.AddImage(kImage);
    agent_ = std::make_unique<agent::Agent>(&runtime_, RealClock::Get(), o);
    ASSERT_TRUE(agent_->Start().ok());
  }

  grpc::Status Apply(gantry::v1::OperatorService::Stub& stub, int count) {
    gantry::v1::ApplyRequest req;
    auto* td = req.add_task_definitions();
    td->set_family("web");
    td->set_network_mode("host");  // the fake runtime's agents have no task networking
    auto* c = td->add_containers();
    c->set_name("httpd");
    c->set_image(kImage);
    c->add_command("httpd");
    c->set_cpu(100);
    c->set_memory(32 << 20);
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(count);
    grpc::ClientContext ctx;
    gantry::v1::ApplyResponse resp;
    return stub.Apply(&ctx, req, &resp);
  }

  std::unique_ptr<testing::EtcdServer> etcd_;
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<ControlPlane>> cps_;
  std::string admin_token_;
  agent::FakeRuntime runtime_;
  std::unique_ptr<agent::Agent> agent_;
  std::atomic<int> lost_{0};
};

TEST_F(HaTest, OneLeaderActsAnyReplicaServesAndAFailoverKeepsTheTasks) {
  ControlPlane* a = StartReplica(0);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->election().IsLeader(); }));
  ControlPlane* b = StartReplica(1);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(a->bootstrap_token() != "" && b->bootstrap_token().empty())
      << "the admin token is made once, by the replica that claimed the store";
  ASSERT_TRUE(WaitFor([&] { return b->election().Leader().has_value(); }));
  EXPECT_FALSE(b->election().IsLeader());
  EXPECT_EQ(b->election().Leader()->name(), "cp0");
  EXPECT_EQ(b->election().Leader()->address(), Address(a));

  // The agent is told about the follower first and finds the leader.
  StartAgent(Address(b) + "," + Address(a), b);
  auto via_b = Operator(b);
  // A follower takes writes (compare-and-swap on etcd); the leader acts.
  ASSERT_TRUE(Apply(*via_b, 2).ok());
  ASSERT_TRUE(WaitFor([&] { return runtime_.RunningIds().size() == 2; }));
  const auto before = runtime_.RunningIds();

  // The leader goes away; the follower takes over, the agent follows it,
  // the running containers are left alone, and the new leader acts.
  a->Shutdown();
  ASSERT_TRUE(WaitFor([&] { return b->election().IsLeader(); }));
  ASSERT_TRUE(Apply(*via_b, 3).ok());
  ASSERT_TRUE(WaitFor([&] { return runtime_.RunningIds().size() == 3; }));
  const auto after = runtime_.RunningIds();
  for (const auto& id : before) {
    EXPECT_NE(std::find(after.begin(), after.end(), id), after.end())
        << id << " was restarted by the failover";
  }
  EXPECT_EQ(lost_.load(), 0) << "a resignation is not a lost leadership";
}

TEST_F(HaTest, AReplicaWithAnotherClustersPkiRefusesTheStore) {
  ASSERT_NE(StartReplica(0), nullptr);
  ControlPlane::Options o;
  o.listen = "127.0.0.1:0";
  o.data_dir = (dir_ / "stranger").string();  // a PKI of its own
  o.store = etcd_->url();
  auto cp = ControlPlane::Start(o, RealClock::Get());
  ASSERT_FALSE(cp.ok());
  EXPECT_NE(cp.status().message().find("belongs to cluster"), std::string::npos) << cp.status();
  EXPECT_NE(cp.status().message().find("--pki-dir"), std::string::npos);
}

// Fencing, seen from etcd: a leader whose lease is gone (expired while it
// was paused, here revoked) cannot write, however its threads carry on, and
// it is told it lost.
TEST_F(HaTest, AReplacedLeaderIsFencedAndToldItLost) {
  auto open = [&] {
    store::EtcdStore::Options o;
    o.etcd.endpoints = {etcd_->endpoint()};
    auto s = store::EtcdStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  };
  ha::FencedStore first(open());
  ha::FencedStore second(open());
  auto* first_etcd = static_cast<store::EtcdStore*>(first.inner());
  auto* second_etcd = static_cast<store::EtcdStore*>(second.inner());
  std::atomic<int64_t> first_epoch{0}, second_epoch{0};
  std::atomic<bool> first_lost{false};
  ha::EtcdElection::Options eo;
  eo.self.set_name("first");
  ha::EtcdElection e1(&first_etcd->client(), eo);
  e1.Start([&](const ha::Term& t) { first_epoch = t.epoch; }, [&] { first_lost = true; });
  ASSERT_TRUE(WaitFor([&] { return first_epoch.load() > 0; }));
  first.Fence(ha::kLeaderKey, first_epoch);
  store::TxnRequest write;
  write.ops.push_back(store::Op::Put("/gantry/fenced", "by the first"));
  ASSERT_TRUE(first.Txn(write)->succeeded);

  eo.self.set_name("second");
  ha::EtcdElection e2(&second_etcd->client(), eo);
  e2.Start([&](const ha::Term& t) { second_epoch = t.epoch; }, [] {});
  // The first leader's lease ends (as if it had expired during a pause).
  auto leader = second.Get(ha::kLeaderKey);
  ASSERT_TRUE(leader.ok() && leader->has_value());
  etcdserverpb::RangeRequest get;
  get.set_key(ha::kLeaderKey);
  etcdserverpb::RangeResponse current;
  ASSERT_TRUE(
      second_etcd->client()
          .Run("get", true,
               [&](auto& m, grpc::ClientContext& ctx) { return m.kv->Range(&ctx, get, &current); })
          .ok());
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(current.kvs(0).lease());
  etcdserverpb::LeaseRevokeResponse revoked;
  ASSERT_TRUE(second_etcd->client()
                  .Run("revoke", true,
                       [&](auto& m, grpc::ClientContext& ctx) {
                         return m.lease->LeaseRevoke(&ctx, revoke, &revoked);
                       })
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return second_epoch.load() > 0; }));
  EXPECT_GT(second_epoch.load(), first_epoch.load());
  auto refused = first.Txn(write);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_TRUE(WaitFor([&] { return first_lost.load(); }));
  second.Fence(ha::kLeaderKey, second_epoch);
  EXPECT_TRUE(second.Txn(write)->succeeded);
  e2.Stop();
  e1.Stop();
}

}  // namespace
}  // namespace gantry
