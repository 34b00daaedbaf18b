#pragma once

// The fixture shared by the ContainerdRuntime tests: an in-process fake
// containerd, test images built from literal layers, and helpers to seed an
// image the way `ctr images import` leaves it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/containerd_runtime.h"
#include "common/registry/manifest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_containerd.h"

namespace gantry::agent::ctd_test {

using gantry::testing::FakeContainerd;
using nlohmann::json;

inline constexpr char kNs[] = "gantry";
inline constexpr char kNode[] = "node-1";
inline constexpr char kImage[] = "registry.test/demo/web:1";
inline constexpr char kLayerType[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kConfigType[] = "application/vnd.oci.image.config.v1+json";
inline constexpr int64_t kMemory = 64 << 20;

// An image's blobs, with uncompressed layers (so a layer's diff ID is its
// digest).
struct TestImage {
  std::vector<std::string> layers;
  std::vector<std::string> diff_ids;
  std::string config, config_digest;
  std::string manifest, manifest_digest;
  std::string ChainIdOf(size_t n) const {
    return ChainId(std::vector<std::string>(diff_ids.begin(), diff_ids.begin() + n));
  }
};

inline json Desc(const std::string& media_type, const std::string& body) {
  return {{"mediaType", media_type},
          {"digest", Sha256Digest(body)},
          {"size", static_cast<int64_t>(body.size())}};
}

inline TestImage MakeImage(std::vector<std::string> layers) {
  TestImage image;
  image.layers = std::move(layers);
  json manifest_layers = json::array();
  for (const auto& layer : image.layers) {
    image.diff_ids.push_back(Sha256Digest(layer));
    manifest_layers.push_back(Desc(kLayerType, layer));
  }
  image.config = json{{"architecture", "amd64"},
                      {"os", "linux"},
                      {"config", {{"Env", {"PATH=/bin", "FROM_IMAGE=1"}}, {"Cmd", {"/bin/sh"}}}},
                      {"rootfs", {{"type", "layers"}, {"diff_ids", image.diff_ids}}}}
                     .dump();
  image.config_digest = Sha256Digest(image.config);
  image.manifest = json{{"schemaVersion", 2},
                        {"mediaType", registry::kOciManifest},
                        {"config", Desc(kConfigType, image.config)},
                        {"layers", manifest_layers}}
                       .dump();
  image.manifest_digest = Sha256Digest(image.manifest);
  return image;
}

// An index listing an arm64 manifest (which does not exist) before `image`.
inline std::string IndexOf(const TestImage& image) {
  json arm = Desc(registry::kOciManifest, "elsewhere");
  arm["platform"] = {{"os", "linux"}, {"architecture", "arm64"}};
  json amd = Desc(registry::kOciManifest, image.manifest);
  amd["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
  return json{{"schemaVersion", 2}, {"mediaType", registry::kOciIndex}, {"manifests", {arm, amd}}}
      .dump();
}

inline size_t IndexOfCall(const std::vector<FakeContainerd::Call>& calls,
                          const std::string& method) {
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].method == method) return i;
  }
  return calls.size();
}

class ContainerdRuntimeTest : public ::testing::Test {
 protected:
  ContainerdRuntimeTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("gantry-ctd-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        runtime_(Options(), fake_.Channel()) {}
  ~ContainerdRuntimeTest() override { std::filesystem::remove_all(dir_); }

  void TearDown() override {
    for (const auto& call : fake_.Calls()) EXPECT_EQ(call.ns, kNs) << call.method;
  }

  ContainerdRuntime::Options Options() const {
    ContainerdRuntime::Options o;
    o.ns = kNs;
    o.node_name = kNode;
    o.exec_output_dir = (dir_ / "exec").string();
    o.call_timeout = absl::Seconds(30);
    return o;
  }

  // An image as `ctr images import` leaves it: blobs labelled with the
  // references containerd's collector follows, the image record, and a
  // committed snapshot per layer chain.
  void Seed(const std::string& name, const TestImage& image) {
    std::map<std::string, std::string> manifest_labels = {
        {"containerd.io/gc.ref.content.config", image.config_digest}};
    for (size_t i = 0; i < image.layers.size(); ++i) {
      fake_.PutContent(image.layers[i], {{"containerd.io/uncompressed", image.diff_ids[i]}});
      manifest_labels["containerd.io/gc.ref.content.l." + std::to_string(i)] =
          Sha256Digest(image.layers[i]);
      fake_.PutCommittedSnapshot(image.ChainIdOf(i + 1), i == 0 ? "" : image.ChainIdOf(i));
    }
    fake_.PutContent(image.config, {{"containerd.io/gc.ref.snapshot.overlayfs",
                                     image.ChainIdOf(image.layers.size())}});
    fake_.PutContent(image.manifest, manifest_labels);
    fake_.PutImage(name, registry::kOciManifest, image.manifest_digest,
                   static_cast<int64_t>(image.manifest.size()));
  }

  ContainerSpec Spec(const std::string& id, const std::string& node = kNode) const {
    ContainerSpec spec;
    spec.id = id;
    spec.image = kImage;
    spec.command = {"/bin/server", "--port=80"};
    spec.env = {"MODE=test"};
    spec.memory_bytes = kMemory;
    spec.cpu_millis = 500;
    spec.log_path = (dir_ / "logs" / (id + ".log")).string();
    spec.labels = {{kLabelTaskId, "task-" + id}, {kLabelNode, node}, {kLabelContainer, "web"}};
    return spec;
  }

  // Seeds kImage and creates and starts container `id`.
  void Run(const std::string& id) {
    if (!fake_.GetImage(kImage)) Seed(kImage, image_);
    ASSERT_TRUE(runtime_.Create(Spec(id)).ok());
    ASSERT_TRUE(runtime_.Start(id).ok());
  }

  std::optional<ContainerInfo> Find(const std::string& id) {
    auto list = runtime_.List();
    EXPECT_TRUE(list.ok()) << list.status();
    for (const auto& c : list.value_or(std::vector<ContainerInfo>())) {
      if (c.id == id) return c;
    }
    return std::nullopt;
  }

  const TestImage image_ = MakeImage({"layer one", "layer two"});
  const std::filesystem::path dir_;
  FakeContainerd fake_;
  ContainerdRuntime runtime_;
};

}  // namespace gantry::agent::ctd_test
