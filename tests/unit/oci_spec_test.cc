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
  auto text = BuildOciSpec(Spec(), Busybox(), OciOptions{"/gantry", ""});
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
  json j = json::parse(*BuildOciSpec(s, Busybox(), OciOptions{"/gantry", ""}));
  for (const auto& ns : j["linux"]["namespaces"]) EXPECT_NE(ns["type"], "network");
  EXPECT_EQ(j["process"]["args"], json::array({"/bin/sh"}));
  EXPECT_FALSE(j["linux"]["resources"]["cpu"].contains("quota"));
}

TEST(OciSpec, SecretFilesAreBindMountedReadOnly) {
  ContainerSpec s = Spec();
  s.mounts.push_back({"/run/gantry/n1/secrets/t1/0", "/run/secrets/tls.key", true});
  json j = json::parse(*BuildOciSpec(s, Busybox(), OciOptions{"/gantry", ""}));
  const json& last = j["mounts"].back();
  EXPECT_EQ(last["destination"], "/run/secrets/tls.key");
  EXPECT_EQ(last["type"], "bind");
  EXPECT_EQ(last["source"], "/run/gantry/n1/secrets/t1/0");
  EXPECT_EQ(last["options"], json::array({"rbind", "ro", "nosuid", "nodev", "noexec"}));
}

TEST(OciSpec, NamedUsersAreRefused) {
  ImageConfig image = Busybox();
  image.user = "www-data";
  EXPECT_FALSE(BuildOciSpec(Spec(), image, OciOptions()).ok());
  image.user = "1000:1000";
  json j = json::parse(*BuildOciSpec(Spec(), image, OciOptions{"/gantry", ""}));
  EXPECT_EQ(j["process"]["user"]["uid"], 1000);
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
