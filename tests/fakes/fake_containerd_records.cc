// The fake containerd's record services: Containers, Images and Leases
// (metadata only, as in containerd: deleting a container leaves its task
// and snapshot alone), and Version, which answers without a namespace.

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/introspection/v1/introspection.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"
#include "tests/fakes/fake_containerd_filters.h"
#include "tests/fakes/fake_containerd_state.h"

namespace gantry::testing::containerd_fake {

namespace {

namespace containers = api::containers::v1;
namespace images = api::images::v1;
namespace leases = api::leases::v1;

std::optional<std::string> ContainerField(const containers::Container& c,
                                          const std::vector<std::string>& path) {
  if (path.size() == 2 && path[0] == "labels") {
    auto it = c.labels().find(path[1]);
    if (it == c.labels().end()) return std::nullopt;
    return it->second;
  }
  if (path == std::vector<std::string>{"id"}) return c.id();
  if (path == std::vector<std::string>{"image"}) return c.image();
  if (path == std::vector<std::string>{"runtime", "name"}) return c.runtime().name();
  if (path == std::vector<std::string>{"snapshotter"}) return c.snapshotter();
  if (path == std::vector<std::string>{"snapshot_key"}) return c.snapshot_key();
  return std::nullopt;
}

grpc::Status ValidateContainer(const containers::Container& c) {
  if (c.id().empty()) return InvalidArgument("container.ID must not be empty");
  if (c.runtime().name().empty()) return InvalidArgument("container.Runtime.Name must be set");
  if (c.spec().value().empty()) return InvalidArgument("container.Spec must be set");
  if (!c.snapshot_key().empty() && c.snapshotter().empty()) {
    return InvalidArgument("container.Snapshotter must be set if container.SnapshotKey is set");
  }
  return grpc::Status::OK;
}

class ContainersService final : public containers::Containers::Service {
 public:
  explicit ContainersService(State* state) : state_(state) {}

  grpc::Status Get(grpc::ServerContext* ctx, const containers::GetContainerRequest* req,
                   containers::GetContainerResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Containers.Get"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->containers.find(req->id());
    if (it == state_->containers.end())
      return NotFound(absl::StrCat("container \"", req->id(), "\""));
    *resp->mutable_container() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status List(grpc::ServerContext* ctx, const containers::ListContainersRequest* req,
                    containers::ListContainersResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Containers.List"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    const std::vector<std::string> filters(req->filters().begin(), req->filters().end());
    for (const auto& [id, c] : state_->containers) {
      auto match = MatchesAny(filters, [&c = c](const std::vector<std::string>& path) {
        return ContainerField(c, path);
      });
      if (!match.ok()) return InvalidArgument(match.status().message());
      if (*match) *resp->add_containers() = c;
    }
    return grpc::Status::OK;
  }

  grpc::Status Create(grpc::ServerContext* ctx, const containers::CreateContainerRequest* req,
                      containers::CreateContainerResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Containers.Create"); !st.ok()) return st;
    if (auto st = ValidateContainer(req->container()); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    const std::string& id = req->container().id();
    if (state_->containers.count(id) > 0) {
      return AlreadyExists(absl::StrCat("container \"", id, "\""));
    }
    containers::Container c = req->container();
    *c.mutable_created_at() = *c.mutable_updated_at() = ToProtoTime(absl::Now());
    state_->containers[id] = c;
    *resp->mutable_container() = std::move(c);
    return grpc::Status::OK;
  }

  grpc::Status Delete(grpc::ServerContext* ctx, const containers::DeleteContainerRequest* req,
                      google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Containers.Delete"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (state_->containers.erase(req->id()) == 0) {
      return NotFound(absl::StrCat("container ", req->id()));
    }
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

// Applies `from` to `to` as an update with `mask` (empty: labels and target).
grpc::Status UpdateImage(const images::Image& from, const google::protobuf::FieldMask& mask,
                         images::Image& to) {
  if (mask.paths().empty()) {
    *to.mutable_labels() = from.labels();
    *to.mutable_target() = from.target();
  }
  for (const std::string& path : mask.paths()) {
    if (path == "target") {
      *to.mutable_target() = from.target();
    } else if (path == "labels") {
      *to.mutable_labels() = from.labels();
    } else if (path.rfind("labels.", 0) == 0) {
      const std::string key = path.substr(7);
      auto it = from.labels().find(key);
      if (it == from.labels().end() || it->second.empty()) {
        to.mutable_labels()->erase(key);
      } else {
        (*to.mutable_labels())[key] = it->second;
      }
    } else {
      return InvalidArgument(absl::StrCat("cannot update \"", path, "\" field on image"));
    }
  }
  *to.mutable_updated_at() = ToProtoTime(absl::Now());
  return grpc::Status::OK;
}

class ImagesService final : public images::Images::Service {
 public:
  explicit ImagesService(State* state) : state_(state) {}

  grpc::Status Get(grpc::ServerContext* ctx, const images::GetImageRequest* req,
                   images::GetImageResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Images.Get"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->images.find(req->name());
    if (it == state_->images.end()) return NotFound(absl::StrCat("image \"", req->name(), "\""));
    *resp->mutable_image() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status List(grpc::ServerContext* ctx, const images::ListImagesRequest* req,
                    images::ListImagesResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Images.List"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    const std::vector<std::string> filters(req->filters().begin(), req->filters().end());
    for (const auto& [name, image] : state_->images) {
      auto match =
          MatchesAny(filters, [&name = name, &image = image](const std::vector<std::string>& path) {
            if (path == std::vector<std::string>{"name"}) return std::optional<std::string>(name);
            if (path.size() == 2 && path[0] == "labels" && image.labels().count(path[1]) > 0) {
              return std::optional<std::string>(image.labels().at(path[1]));
            }
            return std::optional<std::string>();
          });
      if (!match.ok()) return InvalidArgument(match.status().message());
      if (*match) *resp->add_images() = image;
    }
    return grpc::Status::OK;
  }

  grpc::Status Create(grpc::ServerContext* ctx, const images::CreateImageRequest* req,
                      images::CreateImageResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Images.Create"); !st.ok()) return st;
    const images::Image& image = req->image();
    if (image.name().empty()) return InvalidArgument("image.Name must not be empty");
    if (image.target().digest().empty() || image.target().media_type().empty()) {
      return InvalidArgument("image.Target must have a digest and a media type");
    }
    MutexLock lock(&state_->mu);
    if (state_->images.count(image.name()) > 0) {
      return AlreadyExists(absl::StrCat("image \"", image.name(), "\""));
    }
    images::Image stored = image;
    *stored.mutable_created_at() = *stored.mutable_updated_at() = ToProtoTime(absl::Now());
    state_->images[image.name()] = stored;
    *resp->mutable_image() = std::move(stored);
    return grpc::Status::OK;
  }

  grpc::Status Update(grpc::ServerContext* ctx, const images::UpdateImageRequest* req,
                      images::UpdateImageResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Images.Update"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->images.find(req->image().name());
    if (it == state_->images.end()) {
      return NotFound(absl::StrCat("image \"", req->image().name(), "\""));
    }
    if (auto st = UpdateImage(req->image(), req->update_mask(), it->second); !st.ok()) return st;
    *resp->mutable_image() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status Delete(grpc::ServerContext* ctx, const images::DeleteImageRequest* req,
                      google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Images.Delete"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (state_->images.erase(req->name()) == 0) {
      return NotFound(absl::StrCat("image \"", req->name(), "\""));
    }
    if (req->sync()) state_->CollectGarbage();
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

class LeasesService final : public leases::Leases::Service {
 public:
  explicit LeasesService(State* state) : state_(state) {}

  grpc::Status Create(grpc::ServerContext* ctx, const leases::CreateRequest* req,
                      leases::CreateResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Leases.Create"); !st.ok()) return st;
    if (req->id().empty()) return InvalidArgument("lease id must not be empty");
    MutexLock lock(&state_->mu);
    auto it = state_->leases.find(req->id());
    if (it != state_->leases.end() && !it->second.deleted) {
      return AlreadyExists(absl::StrCat("lease \"", req->id(), "\""));
    }
    Lease lease;
    lease.labels = Labels(req->labels().begin(), req->labels().end());
    lease.created = absl::Now();
    state_->leases[req->id()] = lease;
    state_->lease_order.push_back(req->id());
    resp->mutable_lease()->set_id(req->id());
    *resp->mutable_lease()->mutable_created_at() = ToProtoTime(lease.created);
    *resp->mutable_lease()->mutable_labels() = req->labels();
    return grpc::Status::OK;
  }

  grpc::Status Delete(grpc::ServerContext* ctx, const leases::DeleteRequest* req,
                      google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Leases.Delete"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->leases.find(req->id());
    if (it == state_->leases.end() || it->second.deleted) {
      return NotFound(absl::StrCat("lease \"", req->id(), "\""));
    }
    it->second.deleted = true;
    if (req->sync()) state_->CollectGarbage();
    return grpc::Status::OK;
  }

  grpc::Status List(grpc::ServerContext* ctx, const leases::ListRequest*,
                    leases::ListResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Leases.List"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    for (const auto& [id, lease] : state_->leases) {
      if (lease.deleted) continue;
      auto* out = resp->add_leases();
      out->set_id(id);
      *out->mutable_created_at() = ToProtoTime(lease.created);
      for (const auto& [k, v] : lease.labels) (*out->mutable_labels())[k] = v;
    }
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

class VersionService final : public api::version::v1::Version::Service {
 public:
  explicit VersionService(State* state) : state_(state) {}

  grpc::Status Version(grpc::ServerContext* ctx, const google::protobuf::Empty*,
                       api::version::v1::VersionResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Version.Version", nullptr, /*namespaced=*/false); !st.ok()) {
      return st;
    }
    resp->set_version("v1.7.0-gantry-fake");
    resp->set_revision("fake");
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

// Lists the one snapshotter, with the root containerd would export for it.
class IntrospectionService final : public api::introspection::v1::Introspection::Service {
 public:
  explicit IntrospectionService(State* state) : state_(state) {}

  grpc::Status Plugins(grpc::ServerContext* ctx, const api::introspection::v1::PluginsRequest* req,
                       api::introspection::v1::PluginsResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Introspection.Plugins", nullptr, /*namespaced=*/false);
        !st.ok()) {
      return st;
    }
    const std::string wanted = "type==io.containerd.snapshotter.v1,id==" + state_->snapshotter;
    for (const auto& f : req->filters()) {
      if (f != wanted) return grpc::Status::OK;  // the fake knows no other plugin
    }
    auto* p = resp->add_plugins();
    p->set_type("io.containerd.snapshotter.v1");
    p->set_id(state_->snapshotter);
    (*p->mutable_exports())["root"] =
        "/var/lib/containerd/io.containerd.snapshotter.v1." + state_->snapshotter;
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewContainersService(State* state) {
  return std::make_unique<ContainersService>(state);
}
std::unique_ptr<grpc::Service> NewImagesService(State* state) {
  return std::make_unique<ImagesService>(state);
}
std::unique_ptr<grpc::Service> NewLeasesService(State* state) {
  return std::make_unique<LeasesService>(state);
}
std::unique_ptr<grpc::Service> NewVersionService(State* state) {
  return std::make_unique<VersionService>(state);
}

std::unique_ptr<grpc::Service> NewIntrospectionService(State* state) {
  return std::make_unique<IntrospectionService>(state);
}

}  // namespace gantry::testing::containerd_fake
