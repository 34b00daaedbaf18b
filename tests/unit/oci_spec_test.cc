#include "agent/runtime/oci_spec.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace gantry::agent {
namespace {

using nlohmann::json;

ImageConfig Busybox() {
  auto c = ParseImageConfig(R"({"config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},)"
                            R"("rootfs":{"type":"layers","diff_ids":["sha256:aa"]}})");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

ContainerSpec Spec() {
  ContainerSpec s;
  s.id = "t1-httpd";
  s.image = "example.org/demo/busybox:1";
  s.command = {"/bin/sh", "-c", "exec httpd -f"};
  s.env = {"GANTRY_PORT_HTTP=20001"};
  s.cpu_millis = 250;
  s.memory_bytes = 64 << 20;
  s.netns_path = "/var/run/netns/n1";
  s.hostname = "t1";
  return s;
}

TEST(OciSpec, ProcessResourcesAndNamespaces) {
  auto text = BuildOciSpec(Spec(), Busybox(), ProcessUser{}, OciOptions{"/gantry", ""});
  ASSERT_TRUE(text.ok()) << text.status();
  json j = json::parse(*text);
  EXPECT_EQ(j["process"]["args"][2], "exec httpd -f");
  EXPECT_EQ(j["process"]["env"][0], "PATH=/bin");
  EXPECT_EQ(j["process"]["env"][1], "GANTRY_PORT_HTTP=20001");
  EXPECT_TRUE(j["process"]["noNewPrivileges"].get<bool>());
  EXPECT_EQ(j["linux"]["resources"]["memory"]["limit"], 64 << 20);
  EXPECT_EQ(j["linux"]["resources"]["cpu"]["quota"], 25000);
  EXPECT_EQ(j["linux"]["resources"]["cpu"]["period"], 100000);
  EXPECT_EQ(j["linux"]["cgroupsPath"], "/gantry/t1-httpd");
  bool joined = false;
  for (const auto& ns : j["linux"]["namespaces"]) {
    if (ns["type"] == "network") joined = ns["path"] == "/var/run/netns/n1";
  }
  EXPECT_TRUE(joined);
  // Least privilege: no admin capabilities.
  for (const auto& cap : j["process"]["capabilities"]["bounding"]) {
    EXPECT_NE(cap, "CAP_SYS_ADMIN");
    EXPECT_NE(cap, "CAP_NET_ADMIN");
  }
  EXPECT_EQ(j["root"]["path"], "rootfs");
}

TEST(OciSpec, HostNetworkAndImageCommand) {
  ContainerSpec s = Spec();
  s.netns_path.clear();
  s.command.clear();
  s.cpu_millis = 0;
  json j = json::parse(*BuildOciSpec(s, Busybox(), ProcessUser{}, OciOptions{"/gantry", ""}));
  for (const auto& ns : j["linux"]["namespaces"]) EXPECT_NE(ns["type"], "network");
  EXPECT_EQ(j["process"]["args"], json::array({"/bin/sh"}));
  EXPECT_FALSE(j["linux"]["resources"]["cpu"].contains("quota"));
}

TEST(OciSpec, SecretFilesAreBindMountedReadOnly) {
  ContainerSpec s = Spec();
  s.mounts.push_back({"/run/gantry/n1/secrets/t1/0", "/run/secrets/tls.key", true});
  json j = json::parse(*BuildOciSpec(s, Busybox(), ProcessUser{}, OciOptions{"/gantry", ""}));
  const json& last = j["mounts"].back();
  EXPECT_EQ(last["destination"], "/run/secrets/tls.key");
  EXPECT_EQ(last["type"], "bind");
  EXPECT_EQ(last["source"], "/run/gantry/n1/secrets/t1/0");
  EXPECT_EQ(last["options"], json::array({"rbind", "ro", "nosuid", "nodev", "noexec"}));
}

json Built(const ContainerSpec& s, const ProcessUser& user = {}) {
  auto text = BuildOciSpec(s, Busybox(), user, OciOptions{"/gantry", ""});
  EXPECT_TRUE(text.ok()) << text.status();
  return json::parse(text.ok() ? *text : "{}");
}

bool Allowed(const json& profile, const std::string& call) {
  for (const auto& rule : profile["syscalls"]) {
    if (rule["action"] != "SCMP_ACT_ALLOW" || rule.contains("args")) continue;
    for (const auto& n : rule["names"]) {
      if (n == call) return true;
    }
  }
  return false;
}

TEST(OciSpec, SandboxFieldsReachTheSpec) {
  ContainerSpec s = Spec();
  s.pids_limit = 64;
  s.readonly_root = true;
  s.rlimits = {{"RLIMIT_NOFILE", 1024, 4096}};
  s.capabilities = {"CAP_CHOWN", "CAP_NET_BIND_SERVICE"};
  json j = Built(s, ProcessUser{65534, 65534, {29}});
  EXPECT_EQ(j["linux"]["resources"]["pids"]["limit"], 64);
  EXPECT_TRUE(j["root"]["readonly"].get<bool>());
  EXPECT_EQ(j["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
  EXPECT_EQ(j["process"]["rlimits"][0]["hard"], 4096);
  EXPECT_EQ(j["process"]["user"]["uid"], 65534);
  EXPECT_EQ(j["process"]["user"]["additionalGids"], json::array({29}));
  // Not root: the bounding set stays, nothing is held.
  EXPECT_EQ(j["process"]["capabilities"]["bounding"], json(s.capabilities));
  EXPECT_TRUE(j["process"]["capabilities"]["effective"].empty());
  j = Built(s);
  EXPECT_EQ(j["process"]["capabilities"]["effective"], json(s.capabilities));
  EXPECT_FALSE(Built(Spec())["linux"]["resources"].contains("pids"));
}

TEST(Seccomp, DefaultDenyWithOrdinaryCallsAllowed) {
  ContainerSpec s = Spec();
  s.capabilities = {"CAP_CHOWN", "CAP_SETUID"};
  const json profile = Built(s)["linux"]["seccomp"];
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_FALSE(profile["architectures"].empty());
  for (const char* call : {"read", "openat", "execve", "futex", "socket", "ptrace"}) {
    EXPECT_TRUE(Allowed(profile, call)) << call;
  }
  for (const char* call : {"mount", "unshare", "setns", "bpf", "reboot", "init_module",
                           "io_uring_setup", "keyctl", "settimeofday", "clone3"}) {
    EXPECT_FALSE(Allowed(profile, call)) << call;
  }
  // clone only without namespace flags; clone3 answers ENOSYS.
  bool clone_masked = false;
  bool clone3_enosys = false;
  for (const auto& rule : profile["syscalls"]) {
    if (rule["names"] == json::array({"clone"}) && rule.contains("args")) {
      clone_masked = rule["args"][0]["op"] == "SCMP_CMP_MASKED_EQ" &&
                     rule["args"][0]["value"] == 0x7E020000 && rule["args"][0]["valueTwo"] == 0;
    }
    if (rule["names"] == json::array({"clone3"})) clone3_enosys = rule["errnoRet"] == 38;
  }
  EXPECT_TRUE(clone_masked);
  EXPECT_TRUE(clone3_enosys);
}

TEST(Seccomp, CapabilitiesGrantTheirCalls) {
  ContainerSpec s = Spec();
  s.capabilities = {"CAP_SYS_ADMIN", "CAP_SYS_TIME"};
  const json profile = Built(s)["linux"]["seccomp"];
  for (const char* call : {"mount", "unshare", "setns", "clone", "clone3", "settimeofday"}) {
    EXPECT_TRUE(Allowed(profile, call)) << call;
  }
  EXPECT_FALSE(Allowed(profile, "reboot"));
}

TEST(ImageConfig, RejectsConfigsWithoutLayers) {
  EXPECT_FALSE(ParseImageConfig("{}").ok());
  EXPECT_FALSE(ParseImageConfig("not json").ok());
}

TEST(ChainId, FollowsTheImageSpec) {
  EXPECT_EQ(ChainId({"sha256:a"}), "sha256:a");
  EXPECT_EQ(ChainId({"sha256:a", "sha256:b"}), Sha256Digest("sha256:a sha256:b"));
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace gantry::agent
