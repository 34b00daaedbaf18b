// The agent's settings table and command line: defaults, the file, flags
// over the file, typed values with errors that say where and what.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "agent/agent_flags.h"
#include "agent/config.h"

namespace gantry::agent {
namespace {

class AgentSettingsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }

  std::string WriteConfig(const std::string& text) {
    path_ = (std::filesystem::temp_directory_path() /
             ("gantry-agent-settings-" + std::to_string(::getpid()) + ".yaml"))
                .string();
    std::ofstream(path_) << text;
    return path_;
  }

  // Parses `args` as gantry-agent's command line.
  absl::StatusOr<AgentConfig> Parse(const std::string& args) {
    CLI::App app;
    AgentFlags flags(app);
    app.parse(args, false);
    return flags.Resolve();
  }
  // As the shell passes them (empty values included).
  absl::StatusOr<AgentConfig> Parse(std::vector<std::string> args) {
    CLI::App app;
    AgentFlags flags(app);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    app.parse(args);
    return flags.Resolve();
  }

  std::string path_;
};

std::string LowerCamel(const std::string& flag) {
  std::string out;
  bool upper = false;
  for (char c : flag.substr(2)) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(c)) : c;
    upper = false;
  }
  return out;
}

TEST_F(AgentSettingsTest, DefaultsAreTheDeclaredOnes) {
  const AgentConfig c;
  EXPECT_EQ(c.controlplane, "127.0.0.1:7070");
  EXPECT_EQ(c.zone, "default");
  EXPECT_EQ(c.address, "127.0.0.1");
  EXPECT_EQ(c.containerd_socket, "/run/containerd/containerd.sock");
  EXPECT_EQ(c.data_dir, "/var/lib/gantry/agent");
  EXPECT_FALSE(c.cpu.has_value()) << "all cores";
  EXPECT_FALSE(c.memory.has_value()) << "physical memory minus the reserve";
  EXPECT_EQ(c.memory_reserve, int64_t{256} << 20);
  EXPECT_EQ(c.port_range.first, 20000u);
  EXPECT_EQ(c.port_range.last, 32767u);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.image_pull_timeout, absl::Minutes(5));
  EXPECT_EQ(c.image_gc_unused_after, absl::Hours(1));
  EXPECT_EQ(c.image_gc_keep, 5);
  EXPECT_EQ(c.image_gc_interval, absl::Minutes(1));
  EXPECT_EQ(c.container_storage, "") << "asked of containerd";
  EXPECT_EQ(c.min_memory_available_percent, 5);
  EXPECT_EQ(c.max_pid_usage_percent, 90);
  EXPECT_EQ(c.min_disk_free_percent, 10);
  EXPECT_EQ(c.min_inodes_free_percent, 5);
  EXPECT_EQ(c.metrics_listen, "");
  EXPECT_TRUE(c.registries.hosts.empty());
}

TEST_F(AgentSettingsTest, EveryDefaultParsesAndEveryKeyIsItsFlagInLowerCamelCase) {
  for (const Setting& s : AgentSettings()) {
    AgentConfig c;
    if (!s.default_text.empty()) {
      EXPECT_TRUE(ApplySetting(s, s.default_text, c).ok()) << s.flag;
    }
    EXPECT_FALSE(s.help.empty()) << s.flag << s.key;
    EXPECT_FALSE(s.value.type.empty()) << s.flag << s.key;
    if (s.flag.empty() || s.key.empty() || s.value.repeatable) continue;
    EXPECT_EQ(s.key, LowerCamel(s.flag));
  }
}

TEST_F(AgentSettingsTest, EveryFlagOfTodayExists) {
  // deploy/, tests/e2e and operators' unit files use these.
  CLI::App app;
  AgentFlags flags(app);
  for (const char* name : {"--config",
                           "--controlplane",
                           "--node-name",
                           "--zone",
                           "--attribute",
                           "--address",
                           "--containerd-socket",
                           "--containerd-namespace",
                           "--netns",
                           "--data-dir",
                           "--cgroup-parent",
                           "--cpu",
                           "--memory",
                           "--memory-reserve",
                           "--port-range",
                           "--tls-ca",
                           "--tls-cert",
                           "--tls-key",
                           "--tls-server-name",
                           "--log-level",
                           "--metrics-listen",
                           "--insecure-registry",
                           "--image-pull-timeout",
                           "--image-gc-unused-after",
                           "--image-gc-keep",
                           "--container-storage",
                           "--min-memory-available-percent",
                           "--max-pid-usage-percent",
                           "--min-disk-free-percent",
                           "--min-inodes-free-percent",
                           "--image-gc-interval"}) {
    EXPECT_NE(app.get_option_no_throw(name), nullptr) << name;
  }
}

TEST_F(AgentSettingsTest, HelpShowsTypeDefaultAndFileKey) {
  CLI::App app;
  AgentFlags flags(app);
  const std::string help = app.help();
  EXPECT_NE(help.find("--image-gc-interval DURATION=1m"), std::string::npos) << help;
  EXPECT_NE(help.find("(file: imageGcInterval)"), std::string::npos);
  EXPECT_NE(help.find("--min-disk-free-percent PERCENT=10"), std::string::npos);
}

TEST_F(AgentSettingsTest, TheFileOverridesDefaultsAndFlagsGivenOverrideTheFile) {
  const auto path = WriteConfig(
      "zone: b\nimageGcKeep: 3\ncpu: 1500m\nattributes: {disk: ssd}\n"
      "registries:\n  reg.example.org: {username: ci, password: s3cret}\n");
  auto c = Parse("--config " + path +
                 " --zone c --memory 1Gi --attribute rack=r1 --attribute row=2"
                 " --insecure-registry 10.0.0.9:5000 --min-disk-free-percent 0");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->zone, "c") << "a flag beats the file";
  EXPECT_EQ(c->image_gc_keep, 3) << "the file beats the default";
  EXPECT_EQ(c->cpu, 1500);
  EXPECT_EQ(c->memory, int64_t{1} << 30);
  EXPECT_EQ(c->min_disk_free_percent, 0);
  EXPECT_EQ(c->containerd_namespace, "gantry") << "neither: the default";
  EXPECT_EQ(c->attributes,
            (std::map<std::string, std::string>{{"disk", "ssd"}, {"rack", "r1"}, {"row", "2"}}));
  EXPECT_EQ(c->registries.hosts.at("reg.example.org").username, "ci");
  EXPECT_TRUE(c->registries.hosts.at("10.0.0.9:5000").insecure);
}

TEST_F(AgentSettingsTest, TheNodeNameDefaultsToTheHostName) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_name, host);
  EXPECT_EQ(Parse("--node-name n7")->node_name, "n7");
  EXPECT_EQ(Parse(std::vector<std::string>{"--address", ""})->address, "127.0.0.1")
      << "empty is the default";
  EXPECT_EQ(Parse(std::vector<std::string>{"--address", "10.0.0.5"})->address, "10.0.0.5");
}

TEST_F(AgentSettingsTest, TypedFlagErrorsNameTheFlag) {
  const std::map<std::string, std::string> cases = {
      {"--min-disk-free-percent 101",
       "--min-disk-free-percent: expected a percentage from 0 to 100, got \"101\""},
      {"--image-gc-keep many", "--image-gc-keep: expected a number >= 0"},
      {"--port-range 2-1", "--port-range: port range \"2-1\": expected FIRST-LAST within 1-65535"},
      {"--attribute novalue",
       "--attribute: attribute \"novalue\": expected KEY=VALUE, e.g. disk=ssd"},
      {"--metrics-listen 127.0.0.1:0",
       "--metrics-listen: 127.0.0.1:0: expected HOST:PORT with a fixed port, or off"},
      {"--log-level loud", "--log-level: loud: expected trace, debug, info, warn or error"},
  };
  for (const auto& [args, message] : cases) {
    auto c = Parse(args);
    ASSERT_FALSE(c.ok()) << args;
    EXPECT_EQ(c.status().message(), message);
  }
  for (const char* args : {"--image-gc-interval soon", "--cpu lots", "--memory lots",
                           "--memory-reserve lots", "--image-pull-timeout 5x"}) {
    auto c = Parse(args);
    ASSERT_FALSE(c.ok()) << args;
    const std::string flag = std::string(args).substr(0, std::string(args).find(' '));
    EXPECT_EQ(c.status().message().rfind(flag + ": ", 0), 0u) << c.status();
  }
}

TEST_F(AgentSettingsTest, TheNodesFactsAreCheckedByTheControlPlanesRulesAtStartUp) {
  // What the control plane would refuse at registration fails here, naming
  // the flag (common/node_fields.h).
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--address", "web-1"}, "--address: \"web-1\" must be an IPv4 or IPv6 address"},
      {{"--address", "10.0.0.1:80"}, "--address: \"10.0.0.1:80\" must be"},
      {{"--address", "10.0.0.1\n  server evil"}, "--address: \"10.0.0.1\\n  server evil\" must"},
      {{"--zone", "us east"}, "--zone: \"us east\" must be 1 to 63 of"},
      {{"--node-name", "Node_1"}, "--node-name: \"Node_1\" must be a DNS label"},
      {{"--attribute", "disk type=ssd"},
       "--attribute: attribute \"disk type=ssd\": key must be NAME or PREFIX/NAME"},
      {{"--attribute", "disk=fast ssd"}, "--attribute: attribute \"disk=fast ssd\": value must"},
  };
  for (const auto& [args, message] : cases) {
    auto c = Parse(args);
    ASSERT_FALSE(c.ok()) << args[1];
    EXPECT_EQ(c.status().message().rfind(message, 0), 0u) << c.status();
  }
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--address", "fd00::5"},
                                               {"--zone", "us-east-1a"},
                                               {"--attribute", "example.com/rack=r1"},
                                               {"--attribute", "gpu="}}) {
    auto c = Parse(args);
    EXPECT_TRUE(c.ok()) << args[1] << ": " << c.status();
  }
}

TEST_F(AgentSettingsTest, TheFilesNodeFactsAreCheckedToo) {
  auto c = Parse("--config " + WriteConfig("zone: a\naddress: localhost\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind(path_ + ": line 2: address: \"localhost\" must", 0), 0u)
      << c.status();
  c = Parse("--config " + WriteConfig("attributes:\n  disk: ssd\n  disk type: hdd\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind(path_ + ": line 3: attributes[\"disk type\"]: key must", 0),
            0u)
      << c.status();
}

TEST_F(AgentSettingsTest, AttributesAreBoundedInNumber) {
  std::string file = "attributes:\n";
  for (int i = 0; i < 60; ++i) file += "  k" + std::to_string(i) + ": v\n";
  const std::string config = "--config " + WriteConfig(file);
  EXPECT_TRUE(
      Parse(config + " --attribute a=1 --attribute b=1 --attribute c=1 --attribute d=1").ok());
  auto c = Parse(config + " --attribute a=1 --attribute b=1 --attribute c=1 --attribute d=1" +
                 " --attribute e=1");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "attributes (the file's and --attribute together) must be at most 64 (there are 65)");
}

TEST_F(AgentSettingsTest, TypedFileErrorsNameFileLineAndKey) {
  const auto path = WriteConfig("zone: a\nimageGcKeep: many\n");
  AgentConfig c;
  auto st = LoadAgentConfigFile(path, c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), path + ": line 2: imageGcKeep: expected a number >= 0");

  WriteConfig("imageGcInterval: soon\n");
  st = LoadAgentConfigFile(path, c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind(path + ": line 1: imageGcInterval: ", 0), 0u) << st;

  WriteConfig("zone: [a, b]\n");
  st = LoadAgentConfigFile(path, c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), path + ": zone: expected a single value");
}

TEST_F(AgentSettingsTest, UnknownKeysAndFlagOnlySettingsAreErrorsInTheFile) {
  for (const char* text : {"zoen: b\n", "insecureRegistry: 10.0.0.9:5000\n", "config: x\n"}) {
    const auto path = WriteConfig(text);
    auto c = Parse("--config " + path);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(path + ": line 1: unknown setting"), std::string::npos)
        << c.status();
  }
  auto c = Parse("--config /nonexistent/agent.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "/nonexistent/agent.yaml: cannot read the config file");
}

TEST_F(AgentSettingsTest, ASingleValuedFlagGivenTwiceIsRefusedAsBefore) {
  CLI::App app;
  AgentFlags flags(app);
  EXPECT_THROW(app.parse("--zone a --zone b", false), CLI::ParseError);
}

}  // namespace
}  // namespace gantry::agent
