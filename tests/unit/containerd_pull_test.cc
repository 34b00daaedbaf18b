#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "common/registry/reference.h"
#include "common/registry/registry_client.h"
#include "tests/fakes/fake_http_server.h"
#include "tests/unit/containerd_fixture.h"

// ContainerdRuntime::PullImage against a fake registry and fake containerd.

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

}  // namespace
}  // namespace gantry::agent
