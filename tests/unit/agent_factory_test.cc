// The agent's factory without containerd: capacity, options from settings,
// the /metrics endpoint, and a whole agent built on a socket nobody serves.

#include "agent/agent_factory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/metrics/metrics_endpoint.h"
#include "common/files.h"
#include "common/pki.h"
#include "tests/fakes/fake_runtime.h"

namespace gantry::agent {
namespace {

using ::testing::HasSubstr;

constexpr MachineCapacity kMachine{4000, int64_t{8} << 30};

TEST(AgentFactory, CapacityIsTheMachineUnlessSettingsSayOtherwise) {
  AgentConfig c;
  auto cap = ResolveCapacity(c, kMachine);
  ASSERT_TRUE(cap.ok());
  EXPECT_EQ(cap->cpu_millis, 4000);
  EXPECT_EQ(cap->memory_bytes, (int64_t{8} << 30) - (int64_t{256} << 20)) << "minus the reserve";
  c.cpu = 1500;
  c.memory = int64_t{1} << 30;
  cap = ResolveCapacity(c, kMachine);
  ASSERT_TRUE(cap.ok());
  EXPECT_EQ(cap->cpu_millis, 1500);
  EXPECT_EQ(cap->memory_bytes, int64_t{1} << 30);
}

TEST(AgentFactory, AReserveLargerThanTheMachineIsAnError) {
  AgentConfig c;
  c.memory_reserve = int64_t{16} << 30;
  auto cap = ResolveCapacity(c, kMachine);
  ASSERT_FALSE(cap.ok());
  EXPECT_EQ(cap.status().message(), "--memory-reserve is larger than the machine's memory");
  c.memory = int64_t{1} << 30;
  EXPECT_TRUE(ResolveCapacity(c, kMachine).ok()) << "the reserve only matters without --memory";
}

TEST(AgentFactory, OptionsComeFromTheSettings) {
  AgentConfig c;
  c.node_name = "n1";
  c.zone = "b";
  c.address = "10.0.0.5";
  c.netns = "/var/run/netns/n1";
  c.data_dir = "/srv/agent";
  c.attributes = {{"disk", "ssd"}};
  c.image_gc_interval = absl::Minutes(5);
  c.image_gc_keep = 2;
  c.min_disk_free_percent = 15;
  c.max_pid_usage_percent = 80;
  c.tls_ca = "/etc/ca.pem";
  const Agent::Options o = AgentOptionsFor(c, NodeCapacity{2000, int64_t{4} << 30});
  EXPECT_EQ(o.reconciler.data_dir, "/srv/agent");
  EXPECT_EQ(o.reconciler.node_address, "10.0.0.5");
  EXPECT_EQ(o.reconciler.netns_path, "/var/run/netns/n1");
  EXPECT_EQ(o.images.data_dir, "/srv/agent");
  EXPECT_EQ(o.images.keep, 2);
  EXPECT_EQ(o.images.pull_timeout, absl::Minutes(5));
  EXPECT_EQ(o.upkeep.image_gc_interval, absl::Minutes(5));
  EXPECT_DOUBLE_EQ(o.thresholds.min_disk_free, 0.15);
  EXPECT_DOUBLE_EQ(o.thresholds.max_pid_usage, 0.80);
  EXPECT_EQ(IdentityOptionsFor(c).tls.ca, "/etc/ca.pem");
  const auto& id = o.session.identity;
  EXPECT_EQ(id.node_name(), "n1");
  EXPECT_EQ(id.zone(), "b");
  EXPECT_EQ(id.attributes().at("disk"), "ssd");
  EXPECT_EQ(id.capacity().cpu(), 2000);
  EXPECT_EQ(id.capacity().memory(), int64_t{4} << 30);
  EXPECT_EQ(id.port_range_start(), 20000u);
  EXPECT_EQ(id.port_range_end(), 32767u);
  EXPECT_EQ(id.agent_version(), kAgentVersion);
  EXPECT_EQ(RuntimeOptionsFor(c).exec_output_dir, "/srv/agent/exec");
  EXPECT_EQ(RuntimeOptionsFor(c).node_name, "n1");
}

TEST(MetricsEndpoint, AnswersStartingUntilTheAgentServes) {
  FakeClock clock;
  FakeRuntime runtime;
  HealthMonitor monitor(&runtime, &clock, HealthMonitor::Options{0});
  AgentMetrics metrics(&runtime, &monitor, "n1", "a");
  MetricsEndpoint endpoint;
  EXPECT_EQ(endpoint.Handle("/metrics").status, 503);
  EXPECT_EQ(endpoint.Handle("/other").status, 404);
  endpoint.Serve(&metrics);
  const http::Response r = endpoint.Handle("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("gantry_agent_runtime_up"));
}

TEST(MetricsEndpoint, WhereItListensAndWhatItAdvertises) {
  EXPECT_EQ(MetricsEndpoint::Advertised("0.0.0.0:9100", "10.0.0.5"), "10.0.0.5:9100");
  EXPECT_EQ(MetricsEndpoint::Advertised("127.0.0.1:9100", "10.0.0.5"), "127.0.0.1:9100");
  auto off = MetricsEndpoint::Start("off", "127.0.0.1");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ((*off)->advertised(), "");
  auto zero = MetricsEndpoint::Start("127.0.0.1:0", "127.0.0.1");
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("expected HOST:PORT with a fixed port, or off"));
  // 192.0.2.1 (TEST-NET-1) is no address of this host: by default that only
  // costs the metrics, asked for explicitly it is an error.
  auto by_default = MetricsEndpoint::Start("", "192.0.2.1");
  ASSERT_TRUE(by_default.ok()) << by_default.status();
  EXPECT_EQ((*by_default)->advertised(), "");
  auto asked = MetricsEndpoint::Start("192.0.2.1:7072", "192.0.2.1");
  ASSERT_FALSE(asked.ok());
  EXPECT_EQ(asked.status().message().rfind("--metrics-listen: ", 0), 0u) << asked.status();
}

TEST(AgentFactory, BuildsAnAgentWithoutContainerd) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("gantry-agent-factory-" + std::to_string(::getpid()));
  AgentConfig c;
  c.node_name = "n1";
  c.data_dir = dir.string();
  c.containerd_socket = (dir / "no-containerd.sock").string();
  c.metrics_listen = "off";
  // An operator's own PKI: a node certificate given, so no join is needed.
  std::filesystem::create_directories(dir);
  auto ca = pki::CreateCa("test", absl::Now(), absl::Hours(1));
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto key = pki::GenerateKey();
  ASSERT_TRUE(key.ok());
  auto csr = pki::CreateCsr(*key, {"n1", pki::kNodeOrganization});
  ASSERT_TRUE(csr.ok());
  auto cert =
      pki::SignClientCert(*ca, *csr, {"n1", pki::kNodeOrganization}, absl::Now(), absl::Hours(1));
  ASSERT_TRUE(cert.ok()) << cert.status();
  c.tls_ca = (dir / "ca.pem").string();
  c.tls_cert = (dir / "node.pem").string();
  c.tls_key = (dir / "node.key").string();
  ASSERT_TRUE(WriteFileAtomically(c.tls_ca, ca->cert_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(c.tls_cert, *cert).ok());
  ASSERT_TRUE(WriteFileAtomically(c.tls_key, *key).ok());
  FakeClock clock;
  auto agent = CreateAgent(c, kMachine, &clock);
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_EQ((*agent)->options().session.identity.capacity().cpu(), 4000);
  EXPECT_EQ((*agent)->options().session.identity.metrics_address(), "") << "metrics are off";
  EXPECT_EQ((*agent)->options().upkeep.data_dir, dir.string());
  ASSERT_NE((*agent)->metrics(), nullptr);
  // It speaks to containerd: without one, recovering fails and says so.
  EXPECT_FALSE((*agent)->Start().ok());
  agent->reset();
  std::filesystem::remove_all(dir);
}

TEST(AgentFactory, ANodeThatHasNotJoinedIsToldHowTo) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("gantry-agent-unjoined-" + std::to_string(::getpid()));
  AgentConfig c;
  c.node_name = "n1";
  c.data_dir = dir.string();
  c.containerd_socket = (dir / "no-containerd.sock").string();
  c.metrics_listen = "off";
  FakeClock clock;
  auto agent = CreateAgent(c, kMachine, &clock);
  ASSERT_FALSE(agent.ok());
  EXPECT_THAT(agent.status().message(), HasSubstr("has not joined the cluster"));
  EXPECT_THAT(agent.status().message(), HasSubstr("--join-token"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gantry::agent
