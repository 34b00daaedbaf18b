#include "agent/runtime/containerd_runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <mutex>

#include "common/registry/manifest.h"
#include "common/registry/reference.h"
#include "common/registry/registry_client.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_containerd.h"
#include "tests/fakes/fake_http_server.h"

namespace gantry::agent {
namespace {

using gantry::testing::FakeContainerd;
using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr char kNs[] = "gantry";
constexpr char kNode[] = "node-1";
constexpr char kImage[] = "registry.test/demo/web:1";
constexpr char kLayerType[] = "application/vnd.oci.image.layer.v1.tar";
constexpr char kConfigType[] = "application/vnd.oci.image.config.v1+json";
constexpr int64_t kMemory = 64 << 20;

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

json Desc(const std::string& media_type, const std::string& body) {
  return {{"mediaType", media_type},
          {"digest", Sha256Digest(body)},
          {"size", static_cast<int64_t>(body.size())}};
}

TestImage MakeImage(std::vector<std::string> layers) {
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
std::string IndexOf(const TestImage& image) {
  json arm = Desc(registry::kOciManifest, "elsewhere");
  arm["platform"] = {{"os", "linux"}, {"architecture", "arm64"}};
  json amd = Desc(registry::kOciManifest, image.manifest);
  amd["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
  return json{{"schemaVersion", 2}, {"mediaType", registry::kOciIndex}, {"manifests", {arm, amd}}}
      .dump();
}

size_t IndexOfCall(const std::vector<FakeContainerd::Call>& calls, const std::string& method) {
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

TEST_F(ContainerdRuntimeTest, PingAsksForTheVersion) {
  EXPECT_TRUE(runtime_.Ping().ok());
  fake_.FailNext("Version.Version",
                 grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect: refused"));
  const absl::Status st = runtime_.Ping();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), HasSubstr("is containerd running?"));
  EXPECT_TRUE(runtime_.Ping().ok());
}

TEST_F(ContainerdRuntimeTest, CreateMakesSnapshotContainerAndTask) {
  Seed(kImage, image_);
  const ContainerSpec spec = Spec("t1-web");
  ASSERT_TRUE(runtime_.Create(spec).ok());

  // The writable layer sits on the image's chain ID.
  auto snapshot = fake_.GetSnapshot("t1-web");
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->parent, image_.ChainIdOf(2));
  EXPECT_FALSE(snapshot->committed);

  auto container = fake_.GetContainer("t1-web");
  ASSERT_TRUE(container.has_value());
  EXPECT_EQ(container->image(), kImage);
  EXPECT_EQ(container->runtime().name(), "io.containerd.runc.v2");
  EXPECT_EQ(container->snapshotter(), "overlayfs");
  EXPECT_EQ(container->snapshot_key(), "t1-web");
  const std::map<std::string, std::string> labels(container->labels().begin(),
                                                  container->labels().end());
  EXPECT_EQ(labels, spec.labels);
  EXPECT_EQ(container->spec().type_url(), "types.containerd.io/opencontainers/runtime-spec/1/Spec");
  const json oci = json::parse(container->spec().value());
  EXPECT_EQ(oci["process"]["args"], json({"/bin/server", "--port=80"}));
  EXPECT_THAT(oci["process"]["env"].get<std::vector<std::string>>(), Contains("MODE=test"));
  EXPECT_THAT(oci["process"]["env"].get<std::vector<std::string>>(), Contains("FROM_IMAGE=1"));
  EXPECT_EQ(oci["linux"]["resources"]["memory"]["limit"], kMemory);

  // The task is created, not started, with its output appended to the log.
  auto task = fake_.GetTask("t1-web");
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->init.status, containerd::v1::types::CREATED);
  EXPECT_EQ(task->init.stdout_uri, "file://" + spec.log_path);
  EXPECT_EQ(task->init.stderr_uri, "file://" + spec.log_path);
  EXPECT_EQ(task->rootfs_snapshot, "t1-web");
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "logs"));
  EXPECT_EQ(Find("t1-web")->state, ContainerState::kCreated);

  // The snapshot was made under a lease, dropped once the container owned it.
  auto leases = fake_.Leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_THAT(leases[0].id, HasSubstr("gantry-create-"));
  EXPECT_TRUE(leases[0].deleted);
  EXPECT_THAT(leases[0].snapshots, ElementsAre("t1-web"));
  fake_.CollectGarbage();
  EXPECT_TRUE(fake_.GetSnapshot("t1-web").has_value()) << "the container keeps its snapshot";
}

TEST_F(ContainerdRuntimeTest, CreateNeedsThePresentUnpackedImage) {
  absl::Status st = runtime_.Create(Spec("t1-web"));
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.message()), HasSubstr("is not in containerd namespace gantry"));

  // The image record and its blobs, but no unpacked layers.
  fake_.PutContent(image_.config);
  fake_.PutContent(image_.manifest);
  fake_.PutImage(kImage, registry::kOciManifest, image_.manifest_digest, 1);
  st = runtime_.CheckImage(kImage);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.message()), HasSubstr("not unpacked"));
  EXPECT_FALSE(runtime_.Create(Spec("t1-web")).ok());
  EXPECT_THAT(fake_.ContainerIds(), IsEmpty());
}

TEST_F(ContainerdRuntimeTest, CorruptContentIsDataLoss) {
  Seed(kImage, image_);
  fake_.CorruptContent(image_.config_digest);
  const absl::Status st = runtime_.CheckImage(kImage);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(st.message()), HasSubstr("does not match its digest"));
}

TEST_F(ContainerdRuntimeTest, FailedCreateLeavesNothingBehind) {
  Seed(kImage, image_);
  fake_.FailNext("Tasks.Create", grpc::Status(grpc::StatusCode::INTERNAL, "shim died"));
  const absl::Status st = runtime_.Create(Spec("t1-web"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()), HasSubstr("shim died"));
  EXPECT_FALSE(fake_.GetContainer("t1-web").has_value());
  EXPECT_FALSE(fake_.GetSnapshot("t1-web").has_value());
}

TEST_F(ContainerdRuntimeTest, CreateReusesTheSnapshotOfAnInterruptedCreate) {
  Seed(kImage, image_);
  // The first attempt fails, and so does its cleanup: the snapshot stays.
  const grpc::Status down(grpc::StatusCode::UNAVAILABLE, "connection reset");
  fake_.FailNext("Containers.Create", down);
  fake_.FailNext("Snapshots.Remove", down);
  EXPECT_FALSE(runtime_.Create(Spec("t1-web")).ok());
  ASSERT_TRUE(fake_.GetSnapshot("t1-web").has_value());

  ASSERT_TRUE(runtime_.Create(Spec("t1-web")).ok());
  EXPECT_EQ(fake_.GetTask("t1-web")->rootfs_snapshot, "t1-web");
}

TEST_F(ContainerdRuntimeTest, StartSignalRemove) {
  Run("t1-web");
  EXPECT_EQ(fake_.GetTask("t1-web")->init.status, containerd::v1::types::RUNNING);
  EXPECT_EQ(Find("t1-web")->state, ContainerState::kRunning);
  EXPECT_FALSE(runtime_.Start("t1-web").ok()) << "already running";

  // Remove refuses a running container and keeps it whole.
  EXPECT_FALSE(runtime_.Remove("t1-web").ok());
  EXPECT_TRUE(fake_.GetContainer("t1-web").has_value());

  ASSERT_TRUE(runtime_.Signal("t1-web", SIGTERM, /*all=*/false).ok());
  auto info = Find("t1-web");
  EXPECT_EQ(info->state, ContainerState::kStopped);
  EXPECT_EQ(info->exit_code, 143);
  EXPECT_GT(info->exited_at, absl::UnixEpoch());
  // A signal to a process that has exited is not an error.
  EXPECT_TRUE(runtime_.Signal("t1-web", SIGKILL, /*all=*/true).ok());

  ASSERT_TRUE(runtime_.Remove("t1-web").ok());
  EXPECT_FALSE(fake_.GetTask("t1-web").has_value());
  EXPECT_FALSE(fake_.GetContainer("t1-web").has_value());
  EXPECT_FALSE(fake_.GetSnapshot("t1-web").has_value());
  EXPECT_TRUE(fake_.GetSnapshot(image_.ChainIdOf(2)).has_value()) << "the image's layers stay";
  EXPECT_TRUE(runtime_.Remove("t1-web").ok()) << "idempotent";
}

TEST_F(ContainerdRuntimeTest, SigkillEndsWhatIgnoresSigterm) {
  Run("t1-web");
  fake_.SetSignalEffect("t1-web", SIGTERM, std::nullopt);
  ASSERT_TRUE(runtime_.Signal("t1-web", SIGTERM, /*all=*/false).ok());
  EXPECT_EQ(Find("t1-web")->state, ContainerState::kRunning);
  ASSERT_TRUE(runtime_.Signal("t1-web", SIGKILL, /*all=*/true).ok());
  EXPECT_EQ(Find("t1-web")->exit_code, 137);
  auto task = fake_.GetTask("t1-web");
  EXPECT_THAT(task->init.signals, ElementsAre(SIGTERM, SIGKILL));
  EXPECT_TRUE(task->init.signalled_all);
}

TEST_F(ContainerdRuntimeTest, RecoverReturnsOnlyThisNodesContainers) {
  Seed(kImage, image_);
  ASSERT_TRUE(runtime_.Create(Spec("created")).ok());
  Run("running");
  Run("exited");
  fake_.ExitTask("exited", 3);
  ASSERT_TRUE(runtime_.Create(Spec("elsewhere", "node-2")).ok());
  ContainerSpec unlabelled = Spec("unlabelled");
  unlabelled.labels.erase(kLabelTaskId);
  ASSERT_TRUE(runtime_.Create(unlabelled).ok());
  // A container whose task is gone (a remove interrupted halfway).
  Run("no-task");
  ASSERT_TRUE(runtime_.Signal("no-task", SIGKILL, false).ok());
  fake_.FailNext("Containers.Delete", grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  EXPECT_FALSE(runtime_.Remove("no-task").ok());

  auto recovered = runtime_.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  std::map<std::string, ContainerInfo> by_id;
  for (const auto& c : *recovered) by_id[c.id] = c;
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id["created"].state, ContainerState::kCreated);
  EXPECT_EQ(by_id["running"].state, ContainerState::kRunning);
  EXPECT_EQ(by_id["exited"].state, ContainerState::kStopped);
  EXPECT_EQ(by_id["exited"].exit_code, 3);
  EXPECT_EQ(by_id["no-task"].state, ContainerState::kNoTask);
  EXPECT_THAT(by_id["running"].labels, Contains(Pair(kLabelTaskId, "task-running")));
}

TEST_F(ContainerdRuntimeTest, ExecReturnsOutputAndExitCode) {
  Run("t1-web");
  fake_.SetExecScript("t1-web", [](const std::vector<std::string>& args) {
    if (args == std::vector<std::string>{"/bin/check", "--ready"}) {
      return FakeContainerd::ExecScript{"ready\n", 0};
    }
    return FakeContainerd::ExecScript{"no such check\n", 2};
  });
  auto ok = runtime_.Exec("t1-web", {"/bin/check", "--ready"}, absl::Seconds(10));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->exit_code, 0);
  EXPECT_EQ(ok->output, "ready");
  auto failed = runtime_.Exec("t1-web", {"/bin/other"}, absl::Seconds(10));
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->exit_code, 2);
  EXPECT_EQ(failed->output, "no such check");

  // Each ran with the container's environment and was cleaned up after.
  auto execs = fake_.Execs("t1-web");
  ASSERT_EQ(execs.size(), 2u);
  const json process = json::parse(execs[0].spec_json);
  EXPECT_THAT(process["env"].get<std::vector<std::string>>(), Contains("MODE=test"));
  EXPECT_EQ(process["terminal"], false);
  for (const auto& e : execs) EXPECT_TRUE(e.deleted) << e.exec_id;
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "exec"));
}

TEST_F(ContainerdRuntimeTest, ExecThatHangsIsKilledAtItsTimeout) {
  Run("t1-web");
  fake_.SetExecScript("t1-web", [](const std::vector<std::string>&) {
    return FakeContainerd::ExecScript{"", 0, /*hang=*/true};
  });
  auto result = runtime_.Exec("t1-web", {"/bin/sleep", "1000"}, absl::Milliseconds(50));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  auto execs = fake_.Execs("t1-web");
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].exit_code, 137);
  EXPECT_TRUE(execs[0].deleted);
  EXPECT_EQ(Find("t1-web")->state, ContainerState::kRunning) << "the container lives on";
}

TEST_F(ContainerdRuntimeTest, ExecNeedsARunningContainer) {
  Seed(kImage, image_);
  ASSERT_TRUE(runtime_.Create(Spec("t1-web")).ok());
  auto result = runtime_.Exec("t1-web", {"/bin/true"}, absl::Seconds(10));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime_.Exec("missing", {"/bin/true"}, absl::Seconds(10)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ContainerdRuntimeTest, StatsDecodeCgroupsV1AndV2OfRunningContainers) {
  Run("v2");
  Run("v1");
  Run("stopped");
  io::containerd::cgroups::v2::Metrics v2;
  v2.mutable_cpu()->set_usage_usec(2'500'000);
  v2.mutable_memory()->set_usage(1000);
  v2.mutable_memory()->set_usage_limit(4096);
  fake_.SetMetrics("v2", v2);
  io::containerd::cgroups::v1::Metrics v1;
  v1.mutable_cpu()->mutable_usage()->set_total(1'000'000'000);
  v1.mutable_memory()->mutable_usage()->set_usage(2000);
  v1.mutable_memory()->mutable_usage()->set_limit(uint64_t{0x7FFFFFFFFFFFF000});
  fake_.SetMetrics("v1", v1);
  fake_.SetMetrics("stopped", v2);
  fake_.ExitTask("stopped", 0);

  auto stats = runtime_.Stats({"v1", "v2", "stopped"});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 2u);
  EXPECT_DOUBLE_EQ(stats->at("v2").cpu_seconds, 2.5);
  EXPECT_EQ(stats->at("v2").memory_bytes, 1000);
  EXPECT_EQ(stats->at("v2").memory_limit, 4096);
  EXPECT_DOUBLE_EQ(stats->at("v1").cpu_seconds, 1.0);
  EXPECT_EQ(stats->at("v1").memory_bytes, 2000);
  EXPECT_EQ(stats->at("v1").memory_limit, 0) << "no limit";
  // Only what was asked for.
  EXPECT_THAT(*runtime_.Stats({"v1"}), SizeIs(1));
  const size_t calls = fake_.Calls().size();
  EXPECT_THAT(*runtime_.Stats({}), IsEmpty());
  EXPECT_EQ(fake_.Calls().size(), calls) << "nothing asked, nothing called";
}

TEST_F(ContainerdRuntimeTest, ListAndRemoveImages) {
  const TestImage other = MakeImage({"other base", "other app", "other config"});
  Seed(kImage, image_);
  Seed("registry.test/demo/api:2", other);
  auto images = runtime_.ListImages();
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->size(), 2u);
  const ImageInfo& web = (*images)[1].name == kImage ? (*images)[1] : (*images)[0];
  EXPECT_EQ(web.digest, image_.manifest_digest);
  EXPECT_EQ(web.size, static_cast<int64_t>(image_.config.size() + image_.layers[0].size() +
                                           image_.layers[1].size()));

  ASSERT_TRUE(runtime_.RemoveImage(kImage).ok());
  EXPECT_FALSE(fake_.GetImage(kImage).has_value());
  // Its blobs and layers went with it (containerd collects at once); the
  // other image keeps its own.
  EXPECT_FALSE(fake_.GetContent(image_.config_digest).has_value());
  EXPECT_FALSE(fake_.GetSnapshot(image_.ChainIdOf(1)).has_value());
  EXPECT_TRUE(fake_.GetContent(other.config_digest).has_value());
  EXPECT_TRUE(fake_.GetSnapshot(other.ChainIdOf(3)).has_value());
  EXPECT_TRUE(runtime_.RemoveImage(kImage).ok()) << "already gone";
  EXPECT_THAT(*runtime_.ListImages(), SizeIs(1));
}

// Pulls from an in-process registry into the fake containerd.
class ContainerdPullTest : public ContainerdRuntimeTest {
 protected:
  ContainerdPullTest()
      : registry_server_([this](const gantry::testing::HttpRequest& r) { return Handle(r); }),
        registry_(Config()) {}

  registry::RegistryConfig Config() {
    registry::RegistryConfig config;
    config.hosts[registry_server_.address()].insecure = true;
    config.stall_timeout = absl::Seconds(10);
    return config;
  }

  gantry::testing::HttpResponse Handle(const gantry::testing::HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    gantry::testing::HttpResponse resp;
    auto it = routes_.find(r.path);
    if (it == routes_.end()) {
      resp.code = 404;
      resp.body = R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]})";
      return resp;
    }
    if (r.path.find("/blobs/") != std::string::npos) blob_requests_++;
    return it->second;
  }

  void Serve(const std::string& path, const std::string& body, const std::string& type = "") {
    std::lock_guard<std::mutex> lock(mu_);
    routes_["/v2/demo/web/" + path].body = body;
    if (!type.empty()) routes_["/v2/demo/web/" + path].headers["Content-Type"] = type;
  }

  // Serves `image` as demo/web:1 (directly, or through an index).
  void Serve(const TestImage& image, bool as_index = false) {
    for (const auto& layer : image.layers) Serve("blobs/" + Sha256Digest(layer), layer);
    Serve("blobs/" + image.config_digest, image.config);
    Serve("manifests/" + image.manifest_digest, image.manifest, registry::kOciManifest);
    Serve("manifests/1", as_index ? IndexOf(image) : image.manifest,
          as_index ? registry::kOciIndex : registry::kOciManifest);
  }

  registry::Reference Ref() const {
    return *registry::ParseReference(registry_server_.address() + "/demo/web:1");
  }

  int blob_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return blob_requests_;
  }

  // A layer larger than the runtime's write chunk, so it streams in parts.
  const TestImage big_ = MakeImage({std::string((3 << 20) / 2, 'x'), "app layer"});
  std::mutex mu_;
  std::map<std::string, gantry::testing::HttpResponse> routes_;
  int blob_requests_ = 0;
  gantry::testing::FakeHttpServer registry_server_;
  registry::RegistryClient registry_;
};

TEST_F(ContainerdPullTest, PullStoresLabelsUnpacksAndNamesTheImageUnderALease) {
  Serve(big_);
  ASSERT_TRUE(runtime_.PullImage(Ref(), registry_).ok());

  // Blobs, labelled with what containerd's collector follows.
  for (size_t i = 0; i < 2; ++i) {
    auto layer = fake_.GetContent(Sha256Digest(big_.layers[i]));
    ASSERT_TRUE(layer.has_value()) << i;
    EXPECT_EQ(layer->data, big_.layers[i]);
    EXPECT_THAT(layer->labels, Contains(Pair("containerd.io/uncompressed", big_.diff_ids[i])));
  }
  auto config = fake_.GetContent(big_.config_digest);
  ASSERT_TRUE(config.has_value());
  EXPECT_THAT(config->labels,
              Contains(Pair("containerd.io/gc.ref.snapshot.overlayfs", big_.ChainIdOf(2))));
  auto manifest = fake_.GetContent(big_.manifest_digest);
  ASSERT_TRUE(manifest.has_value());
  EXPECT_THAT(
      manifest->labels,
      UnorderedElementsAre(Pair("containerd.io/gc.ref.content.config", big_.config_digest),
                           Pair("containerd.io/gc.ref.content.l.0", Sha256Digest(big_.layers[0])),
                           Pair("containerd.io/gc.ref.content.l.1", Sha256Digest(big_.layers[1]))));

  // Layers unpacked by chain ID, each on the one below; no extraction left.
  auto base = fake_.GetSnapshot(big_.ChainIdOf(1));
  auto top = fake_.GetSnapshot(big_.ChainIdOf(2));
  ASSERT_TRUE(base.has_value() && top.has_value());
  EXPECT_TRUE(base->committed && top->committed);
  EXPECT_EQ(base->parent, "");
  EXPECT_EQ(top->parent, big_.ChainIdOf(1));
  EXPECT_THAT(top->applied, ElementsAre(Sha256Digest(big_.layers[1])));
  EXPECT_THAT(fake_.SnapshotKeys(), UnorderedElementsAre(big_.ChainIdOf(1), big_.ChainIdOf(2)));

  auto image = fake_.GetImage(Ref().String());
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->target().digest(), big_.manifest_digest);
  EXPECT_EQ(image->target().media_type(), registry::kOciManifest);
  EXPECT_TRUE(runtime_.CheckImage(Ref().String()).ok());

  // Everything was made under one expiring lease, deleted after the image
  // record existed.
  auto leases = fake_.Leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_TRUE(leases[0].deleted);
  EXPECT_EQ(leases[0].labels.count("containerd.io/gc.expire"), 1u);
  EXPECT_EQ(leases[0].content.size(), 4u);
  const auto calls = fake_.Calls();
  const size_t created = IndexOfCall(calls, "Leases.Create");
  const size_t named = IndexOfCall(calls, "Images.Create");
  const size_t dropped = IndexOfCall(calls, "Leases.Delete");
  ASSERT_LT(created, named);
  ASSERT_LT(named, dropped);
  ASSERT_LT(dropped, calls.size());
  for (size_t i = created + 1; i < named; ++i) {
    EXPECT_EQ(calls[i].lease, leases[0].id) << calls[i].method;
  }
  // Once the lease is gone, the image's references keep all of it.
  fake_.CollectGarbage();
  EXPECT_EQ(fake_.ContentDigests().size(), 4u);
  EXPECT_EQ(fake_.SnapshotKeys().size(), 2u);
  // And removing the image lets it all go.
  ASSERT_TRUE(runtime_.RemoveImage(Ref().String()).ok());
  EXPECT_THAT(fake_.ContentDigests(), IsEmpty());
  EXPECT_THAT(fake_.SnapshotKeys(), IsEmpty());
}

TEST_F(ContainerdPullTest, PullChoosesLinuxAmd64FromAnIndex) {
  Serve(image_, /*as_index=*/true);
  ASSERT_TRUE(runtime_.PullImage(Ref(), registry_).ok());
  const std::string index_digest = Sha256Digest(IndexOf(image_));
  auto image = fake_.GetImage(Ref().String());
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->target().digest(), index_digest);
  EXPECT_EQ(image->target().media_type(), registry::kOciIndex);
  EXPECT_THAT(fake_.GetContent(index_digest)->labels,
              Contains(Pair("containerd.io/gc.ref.content.m.0", image_.manifest_digest)));
  EXPECT_TRUE(runtime_.CheckImage(Ref().String()).ok());
  ASSERT_TRUE(runtime_.ListImages().ok());
  EXPECT_EQ(runtime_.ListImages()->at(0).size,
            static_cast<int64_t>(image_.config.size() + image_.layers[0].size() +
                                 image_.layers[1].size()));
}

TEST_F(ContainerdPullTest, PullAgainFetchesNothingPresent) {
  Serve(image_);
  ASSERT_TRUE(runtime_.PullImage(Ref(), registry_).ok());
  const int fetched = blob_requests();
  EXPECT_EQ(fetched, 3);
  ASSERT_TRUE(runtime_.PullImage(Ref(), registry_).ok());
  EXPECT_EQ(blob_requests(), fetched + 1) << "only the config is read again";
  EXPECT_LT(IndexOfCall(fake_.Calls(), "Images.Update"), fake_.Calls().size())
      << "the existing record is updated";
  EXPECT_EQ(fake_.GetImage(Ref().String())->target().digest(), image_.manifest_digest);
}

TEST_F(ContainerdPullTest, CorruptBlobFailsThePull) {
  Serve(big_);
  // Same size, other bytes.
  Serve("blobs/" + Sha256Digest(big_.layers[0]), std::string(big_.layers[0].size(), 'y'));
  const absl::Status st = runtime_.PullImage(Ref(), registry_);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_FALSE(fake_.GetContent(Sha256Digest(big_.layers[0])).has_value());
  EXPECT_FALSE(fake_.GetImage(Ref().String()).has_value());
  ASSERT_EQ(fake_.Leases().size(), 1u);
  EXPECT_TRUE(fake_.Leases()[0].deleted);
}

TEST_F(ContainerdPullTest, LayerThatUnpacksToAnotherDiffIdFailsThePull) {
  Serve(image_);
  fake_.SetDiffResult(Sha256Digest(image_.layers[1]), Sha256Digest("something else"));
  const absl::Status st = runtime_.PullImage(Ref(), registry_);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("but the image config says"));
  EXPECT_FALSE(fake_.GetImage(Ref().String()).has_value());
  // The base layer was unpacked; the bad one's extraction was removed.
  EXPECT_THAT(fake_.SnapshotKeys(), ElementsAre(image_.ChainIdOf(1)));
}

TEST_F(ContainerdPullTest, UnavailableContainerdFailsThePullAsUnavailable) {
  Serve(image_);
  fake_.FailNext("Content.Write", grpc::Status(grpc::StatusCode::UNAVAILABLE, "socket closed"));
  const absl::Status st = runtime_.PullImage(Ref(), registry_);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_TRUE(fake_.Leases()[0].deleted);
  ASSERT_TRUE(runtime_.PullImage(Ref(), registry_).ok()) << "a retry succeeds";
}

// The fake holds the runtime to containerd's Write protocol.
TEST_F(ContainerdRuntimeTest, FakeContentWriteChecksOffsetsAndTheCommittedDigest) {
  namespace content = containerd::services::content::v1;
  auto stub = content::Content::NewStub(fake_.Channel());
  auto message = [](content::WriteAction action, int64_t offset, const std::string& data) {
    content::WriteContentRequest req;
    req.set_action(action);
    req.set_ref("test-ref");
    req.set_offset(offset);
    req.set_data(data);
    return req;
  };
  auto write = [&](std::vector<content::WriteContentRequest> reqs) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("containerd-namespace", kNs);
    auto stream = stub->Write(&ctx);
    content::WriteContentResponse resp;
    for (const auto& req : reqs) {
      if (!stream->Write(req) || !stream->Read(&resp)) break;
    }
    stream->WritesDone();
    while (stream->Read(&resp)) {
    }
    return stream->Finish().error_code();
  };
  auto commit = message(content::COMMIT, 0, "hello");
  commit.set_expected(Sha256Digest("other"));
  EXPECT_EQ(write({commit}), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(write({message(content::WRITE, 100, "x")}), grpc::StatusCode::OUT_OF_RANGE);

  // Written in two parts, committed with the right digest and size.
  commit = message(content::COMMIT, 3, "lo");
  commit.set_expected(Sha256Digest("hello"));
  commit.set_total(5);
  EXPECT_EQ(write({message(content::WRITE, 0, "hel"), commit}), grpc::StatusCode::OK);
  EXPECT_EQ(fake_.GetContent(Sha256Digest("hello"))->data, "hello");
  EXPECT_EQ(write({commit}), grpc::StatusCode::ALREADY_EXISTS);
}

TEST(ContainerdRuntimeNamespace, CallsInAnotherNamespaceAreRefused) {
  FakeContainerd fake;
  ContainerdRuntime::Options o;
  o.ns = "someone-else";
  ContainerdRuntime runtime(o, fake.Channel());
  EXPECT_TRUE(runtime.Ping().ok()) << "the version needs no namespace";
  EXPECT_EQ(runtime.List().status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace gantry::agent
