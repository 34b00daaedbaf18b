#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/config.h"
#include "agent/machine_capacity.h"

namespace gantry::agent {
namespace {

std::string WriteConfig(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("gantry-agent-config-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(AgentConfig, LoadsKnownKeys) {
  const auto path = WriteConfig(
      "controlplane: 10.0.0.1:7070\nzone: b\nattributes: {disk: ssd}\ntlsCa: /etc/ca.pem\n");
  AgentConfig c;
  ASSERT_TRUE(LoadAgentConfigFile(path, c).ok());
  EXPECT_EQ(c.controlplane, "10.0.0.1:7070");
  EXPECT_EQ(c.zone, "b");
  EXPECT_EQ(c.attributes.at("disk"), "ssd");
  EXPECT_EQ(c.tls_ca, "/etc/ca.pem");
  EXPECT_EQ(c.containerd_namespace, "gantry") << "untouched keys keep their defaults";
  std::filesystem::remove(path);
}

TEST(AgentConfig, EveryFlagHasAKey) {
  // The shipped file says "Keys are the flag names in lowerCamelCase".
  const auto path = WriteConfig(
      "imageGcInterval: 5m\ncontainerStorage: /srv/containerd\nminMemoryAvailablePercent: 7\n"
      "maxPidUsagePercent: 80\nminDiskFreePercent: 15\nminInodesFreePercent: 6\n"
      "imagePullTimeout: 2m\nimageGcUnusedAfter: 2h\nimageGcKeep: 3\n");
  AgentConfig c;
  auto st = LoadAgentConfigFile(path, c);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(c.image_gc_interval, absl::Minutes(5));
  EXPECT_EQ(c.container_storage, "/srv/containerd");
  EXPECT_EQ(c.min_memory_available_percent, 7);
  EXPECT_EQ(c.max_pid_usage_percent, 80);
  EXPECT_EQ(c.min_disk_free_percent, 15);
  EXPECT_EQ(c.min_inodes_free_percent, 6);
  std::filesystem::remove(path);
}

TEST(AgentConfig, ANestedAttributeIsAnErrorNotACrash) {
  const auto path = WriteConfig("attributes:\n  disk: [ssd, nvme]\n");
  AgentConfig c;
  auto st = LoadAgentConfigFile(path, c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), path + ": line 2: attributes.disk: expected a single value");
  std::filesystem::remove(path);
}

TEST(AgentConfig, UnknownKeysNameFileAndKey) {
  const auto path = WriteConfig("zone: a\nzoen: b\n");
  AgentConfig c;
  auto st = LoadAgentConfigFile(path, c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), path + ": line 2: unknown setting \"zoen\"");
  std::filesystem::remove(path);
  EXPECT_FALSE(LoadAgentConfigFile("/nonexistent.yaml", c).ok());
}

TEST(AgentConfig, AttributesAndPortRanges) {
  std::map<std::string, std::string> attrs;
  EXPECT_TRUE(ParseAttribute("disk=ssd", attrs).ok());
  EXPECT_EQ(attrs["disk"], "ssd");
  EXPECT_FALSE(ParseAttribute("novalue", attrs).ok());
  uint32_t a = 0;
  uint32_t b = 0;
  EXPECT_TRUE(ParsePortRange("20000-20100", a, b).ok());
  EXPECT_EQ(b, 20100u);
  EXPECT_FALSE(ParsePortRange("2-1", a, b).ok());
  EXPECT_FALSE(ParsePortRange("0-10", a, b).ok());
}

TEST(AgentConfig, DetectsTheMachine) {
  auto m = DetectMachineCapacity();
  EXPECT_GE(m.cpu_millis, 1000);
  EXPECT_GT(m.memory_bytes, 0);
}

}  // namespace
}  // namespace gantry::agent

namespace gantry::agent {
namespace {

TEST(AgentConfig, RegistriesSection) {
  const auto path = WriteConfig(
      "registries:\n  127.0.0.1:5000: {insecure: true}\n  reg.example.org: {username: ci, "
      "password: s3cret}\n");
  AgentConfig c;
  ASSERT_TRUE(LoadAgentConfigFile(path, c).ok());
  EXPECT_TRUE(c.registries.hosts.at("127.0.0.1:5000").insecure);
  EXPECT_EQ(c.registries.hosts.at("reg.example.org").password, "s3cret");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace gantry::agent
