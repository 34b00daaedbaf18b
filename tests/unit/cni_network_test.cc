// CniNetwork against scripted plugins: what each plugin is called with, in
// which order, what is recorded, and that a failure leaves nothing behind.
// Also the route planner.

#include "agent/network/cni_network.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/network/netns_process.h"
#include "agent/network/node_network.h"
#include "agent/network/node_routes.h"
#include "tests/fakes/scripted_cni.h"
#include "tests/support/test_dir.h"

namespace gantry::agent {
namespace {

using gantry::testing::ScriptedCni;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CniNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override { network_.SetSubnet("10.200.3.0/24"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  CniNetwork::Options Options() {
    CniNetwork::Options o;
    o.state_dir = (dir_ / "cni").string();
    o.netns_dir = (dir_ / "netns").string();
    o.manage_namespaces = false;
    return o;
  }
  std::filesystem::path dir_ = gantry::testing::FreshTestDir("cni");
  ScriptedCni cni_;
  CniNetwork network_{Options(), &cni_};
};

TEST_F(CniNetworkTest, AddChainsLoopbackBridgeAndPortmap) {
  auto a = network_.Attach("t1", {{20005, 8080}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->address, "10.200.3.2");
  EXPECT_EQ(a->netns, (dir_ / "netns" / "t1").string());
  EXPECT_THAT(cni_.Names(), ElementsAre("ADD loopback lo", "ADD bridge eth0", "ADD portmap eth0"));
  const json bridge = json::parse(cni_.calls[1].config);
  EXPECT_EQ(bridge["ipam"]["ranges"][0][0]["subnet"], "10.200.3.0/24");
  EXPECT_EQ(bridge["bridge"], "gantry0");
  EXPECT_FALSE(bridge.contains("prevResult"));
  EXPECT_FALSE(bridge["ipMasq"].get<bool>());  // the node's table masquerades
  const json portmap = json::parse(cni_.calls[2].config);
  EXPECT_EQ(portmap["runtimeConfig"]["portMappings"][0]["hostPort"], 20005);
  EXPECT_EQ(portmap["runtimeConfig"]["portMappings"][0]["containerPort"], 8080);
  EXPECT_EQ(portmap["prevResult"]["ips"][0]["address"], "10.200.3.2/24");
  EXPECT_EQ(cni_.calls[1].container_id, "t1");
  EXPECT_EQ(cni_.calls[1].netns, a->netns);
  // Recorded: a second Attach (a restart) runs nothing.
  EXPECT_THAT(network_.Attached(), ElementsAre("t1"));
  cni_.calls.clear();
  auto again = network_.Attach("t1", {{20005, 8080}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->address, "10.200.3.2");
  EXPECT_TRUE(cni_.calls.empty());
  EXPECT_EQ(std::filesystem::status(dir_ / "cni" / "attachments" / "t1.json").permissions() &
                std::filesystem::perms::others_all,
            std::filesystem::perms::none);
}

TEST_F(CniNetworkTest, NoPortsNoPortmapAndWaitingForASubnet) {
  ASSERT_TRUE(network_.Attach("t1", {}).ok());
  EXPECT_THAT(cni_.Names(), ElementsAre("ADD loopback lo", "ADD bridge eth0"));
  CniNetwork unconfigured(Options(), &cni_);
  EXPECT_EQ(unconfigured.Attach("t2", {}).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CniNetworkTest, AFailedAddIsUndoneAndSaysWhy) {
  cni_.failures["ADD portmap"] =
      absl::InternalError("portmap: failed to set up port 20005: iptables: No chain");
  auto a = network_.Attach("t1", {{20005, 20005}});
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("portmap: failed to set up port 20005"));
  EXPECT_THAT(cni_.Names(), ElementsAre("ADD loopback lo", "ADD bridge eth0", "ADD portmap eth0",
                                        "DEL portmap eth0", "DEL bridge eth0"));
  // DEL gets what ADD gave.
  EXPECT_EQ(json::parse(cni_.calls[4].config)["prevResult"]["ips"][0]["address"], "10.200.3.2/24");
  EXPECT_TRUE(network_.Attached().empty());
}

TEST_F(CniNetworkTest, DetachRunsDelInReverseAndCheckReplays) {
  ASSERT_TRUE(network_.Attach("t1", {{20005, 20005}}).ok());
  cni_.calls.clear();
  ASSERT_TRUE(network_.Check("t1").ok());
  EXPECT_THAT(cni_.Names(), ElementsAre("CHECK bridge eth0"));
  EXPECT_TRUE(json::parse(cni_.calls[0].config).contains("prevResult"));
  cni_.calls.clear();
  ASSERT_TRUE(network_.Detach("t1").ok());
  EXPECT_THAT(cni_.Names(), ElementsAre("DEL portmap eth0", "DEL bridge eth0"));
  EXPECT_TRUE(network_.Attached().empty());
  EXPECT_FALSE(network_.Find("t1").has_value());
  EXPECT_TRUE(network_.Detach("t1").ok());  // idempotent
  EXPECT_EQ(network_.Check("t1").code(), absl::StatusCode::kNotFound);
}

TEST_F(CniNetworkTest, AFailedDelIsKeptToRetry) {
  ASSERT_TRUE(network_.Attach("t1", {}).ok());
  cni_.failures["DEL bridge"] = absl::InternalError("bridge: busy");
  EXPECT_FALSE(network_.Detach("t1").ok());
  EXPECT_THAT(network_.Attached(), ElementsAre("t1"));
  cni_.failures.clear();
  EXPECT_TRUE(network_.Detach("t1").ok());
  EXPECT_TRUE(network_.Attached().empty());
}

TEST(NodeNetwork, AMissingPluginIsTheNodesProblem) {
  const auto dir = gantry::testing::FreshTestDir("cni-plugins");
  std::filesystem::create_directories(dir);
  NodeNetwork::Options o;
  o.data_dir = (dir / "data").string();
  o.plugin_dirs = {dir.string()};
  NodeNetwork network(o, std::make_unique<ScriptedCni>(), nullptr);
  EXPECT_THAT(network.Problem(), HasSubstr("CNI plugin loopback not found in " + dir.string()));
  for (const char* p : {"loopback", "bridge", "host-local", "portmap"}) {
    const auto path = dir / p;
    std::ofstream(path) << "#!/bin/sh\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }
  EXPECT_EQ(network.Problem(), "");
  // Routes wait for a task CIDR and skip nodes that share this namespace.
  gantry::v1::Registered registered;
  registered.set_task_subnet("10.200.3.0/24");
  registered.set_task_cidr("10.200.0.0/16");
  network.OnRegistered(registered);
  EXPECT_EQ(network.subnet(), "10.200.3.0/24");
  std::filesystem::remove_all(dir);
}

TEST_F(CniNetworkTest, UnplainIdsAndBrokenRecordsAreRefused) {
  EXPECT_EQ(network_.Attach("../../etc", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(cni_.calls.empty());
  std::filesystem::create_directories(dir_ / "cni" / "attachments");
  std::ofstream(dir_ / "cni" / "attachments" / "t9.json") << R"({"stage": "added"})";
  EXPECT_FALSE(network_.Find("t9").has_value());
  EXPECT_TRUE(network_.Detach("t9").ok());  // nothing it can act on
}

TEST(UsableRoutes, OnlyRoutesThisNodeMayInstall) {
  gantry::v1::DesiredTasks d;
  auto add = [&](const char* subnet, const char* via) {
    auto* r = d.add_routes();
    r->set_subnet(subnet);
    r->set_via(via);
  };
  add("10.200.1.0/24", "192.168.0.11");  // kept
  add("10.200.2.0/24", "127.0.0.1");     // a node sharing this namespace
  add("10.200.3.0/24", "192.168.0.10");  // this node's own address
  add("10.200.4.0/24", "fd00::4");       // IPv6 node
  add("10.9.0.0/24", "192.168.0.12");    // outside the task CIDR
  add("10.200.0.0/25", "192.168.0.13");  // over this node's own subnet
  const auto routes =
      UsableRoutes(d, *ParseIpv4Cidr("10.200.0.0/16"), "10.200.0.0/24", "192.168.0.10");
  EXPECT_THAT(routes, ElementsAre(Route{"10.200.1.0/24", "192.168.0.11"}));
}

TEST(RunProcess, AHungProgramIsKilledAtItsDeadline) {
  ProcessRun run;
  run.path = "/bin/sh";
  run.args = {"-c", "exec >&-; exec sleep 30"};  // closes stdout, then hangs
  run.timeout = absl::Milliseconds(300);
  auto result = RunProcess(run);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  run.args = {"-c", "read line; echo got $line; exit 3"};
  run.input = "config\n";
  run.timeout = absl::Seconds(10);
  result = RunProcess(run);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->output, "got config\n");
}

TEST(CniErrors, ThePluginsWordsAreKept) {
  EXPECT_EQ(
      CniErrorText("bridge", R"({"code":7,"msg":"failed to allocate","details":"no IPs"})", 1),
      "bridge: failed to allocate: no IPs");
  EXPECT_EQ(CniErrorText("bridge", "segfault\n", 139), "bridge exited with code 139: segfault");
}

TEST(PlanRoutes, ReplacesMissingAndRemovesStale) {
  const std::string existing = R"([
    {"dst":"default","gateway":"192.168.0.254"},
    {"dst":"10.200.1.0/24","gateway":"192.168.0.11"},
    {"dst":"10.200.2.0/24","gateway":"192.168.0.99"},
    {"dst":"10.200.9.0/24","gateway":"192.168.0.19"},
    {"dst":"10.200.3.0/24","dev":"gantry0"}])";
  const auto plan = PlanRoutes(existing,
                               {{"10.200.1.0/24", "192.168.0.11"},
                                {"10.200.2.0/24", "192.168.0.12"},
                                {"10.200.4.0/24", "192.168.0.14"}},
                               *ParseIpv4Cidr("10.200.0.0/16"));
  using Args = std::vector<std::string>;
  EXPECT_THAT(plan, ElementsAre(Args{"route", "replace", "10.200.2.0/24", "via", "192.168.0.12"},
                                Args{"route", "replace", "10.200.4.0/24", "via", "192.168.0.14"},
                                Args{"route", "del", "10.200.9.0/24"}));
}

}  // namespace
}  // namespace gantry::agent
