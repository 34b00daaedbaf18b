#include "agent/runtime/containerd_runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "tests/unit/containerd_fixture.h"

namespace gantry::agent {
namespace {

using namespace ctd_test;  // NOLINT: the fixture's helpers
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

TEST_F(ContainerdRuntimeTest, PingAsksForTheVersion) {
  EXPECT_TRUE(runtime_.Ping().ok());
  fake_.FailNext("Version.Version",
                 grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect: refused"));
  const absl::Status st = runtime_.Ping();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), HasSubstr("is containerd running?"));
  EXPECT_TRUE(runtime_.Ping().ok());
}

TEST_F(ContainerdRuntimeTest, StorageRootIsTheSnapshottersRootAsContainerdReportsIt) {
  auto root = runtime_.StorageRoot();
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(*root, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs");
  fake_.FailNext("Introspection.Plugins",
                 grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect: refused"));
  EXPECT_EQ(runtime_.StorageRoot().status().code(), absl::StatusCode::kUnavailable);
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

TEST_F(ContainerdRuntimeTest, AUserTheImageLacksFailsCreateAndLeavesNothing) {
  Seed(kImage, image_);
  ContainerSpec spec = Spec("t1-web");
  spec.user = "ghost";
  const absl::Status st = runtime_.Create(spec);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("user \"ghost\" is not in the image's /etc/passwd"));
  EXPECT_FALSE(fake_.GetContainer("t1-web").has_value());
  EXPECT_FALSE(fake_.GetSnapshot("t1-web").has_value());
  // A numeric user needs no entry.
  spec.user = "4242";
  ASSERT_TRUE(runtime_.Create(spec).ok());
  const json oci = json::parse(fake_.GetContainer("t1-web")->spec().value());
  EXPECT_EQ(oci["process"]["user"]["uid"], 4242);
  EXPECT_EQ(oci["process"]["user"]["gid"], 4242);
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
