// ContainerdRuntime's image side: pulling from a registry into containerd's
// content store and unpacking onto snapshots, as containerd's own client
// does, plus listing and removing images.
//
// A pull runs under a lease (with an expiry, so a crashed agent's leftovers
// are collected too). Blobs are labelled with the references containerd's
// garbage collector follows (index -> manifest -> config and layers ->
// snapshot), so once the image record exists and the lease is gone,
// everything it needs survives and anything half-done does not.

#include <google/protobuf/field_mask.pb.h>

#include "absl/strings/str_cat.h"
#include "agent/runtime/containerd_runtime.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/registry/manifest.h"
#include "common/status_util.h"

namespace gantry::agent {

namespace ctrd = containerd::services;
using registry::Descriptor;

namespace {

// Layers are streamed to containerd in messages of about this size.
constexpr size_t kWriteChunk = 1 << 20;

constexpr char kLabelUncompressed[] = "containerd.io/uncompressed";

containerd::types::Descriptor ToProto(const Descriptor& d) {
  containerd::types::Descriptor out;
  out.set_media_type(d.media_type);
  out.set_digest(d.digest);
  out.set_size(d.size);
  return out;
}

}  // namespace

absl::StatusOr<bool> ContainerdRuntime::HasContent(const std::string& digest,
                                                   const std::string& lease) {
  ctrd::content::v1::InfoRequest req;
  req.set_digest(digest);
  ctrd::content::v1::InfoResponse resp;
  auto ctx = Context(lease);
  grpc::Status st = content_->Info(ctx.get(), req, &resp);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  RETURN_IF_ERROR(Check(st, absl::StrCat("content info ", digest)));
  return true;
}

absl::Status ContainerdRuntime::WriteContent(
    const std::string& lease, const Descriptor& desc,
    const std::map<std::string, std::string>& labels,
    const std::function<absl::Status(const std::function<absl::Status(absl::string_view)>&)>&
        producer) {
  ASSIGN_OR_RETURN(bool present, HasContent(desc.digest, lease));
  if (!present) {
    auto ctx = Context(lease);
    // A fresh ref per attempt: an interrupted earlier write cannot lock it.
    const std::string ref = absl::StrCat("gantry-", desc.digest, "-", NewId().substr(0, 8));
    auto stream = content_->Write(ctx.get());
    ctrd::content::v1::WriteContentResponse resp;
    std::string pending;
    int64_t offset = 0;
    bool finished = false;
    grpc::Status final_status;
    // Ends the stream exactly once. The server answers a commit twice, so
    // everything is read before Finish().
    auto finish = [&] {
      if (finished) return;
      finished = true;
      stream->WritesDone();
      while (stream->Read(&resp)) {
      }
      final_status = stream->Finish();
    };
    auto exists = [&] { return final_status.error_code() == grpc::StatusCode::ALREADY_EXISTS; };
    auto send = [&](ctrd::content::v1::WriteAction action) -> absl::Status {
      if (finished) return absl::AbortedError("content write stream already closed");
      ctrd::content::v1::WriteContentRequest req;
      req.set_action(action);
      req.set_ref(ref);
      req.set_offset(offset);
      req.set_data(pending);
      if (action == ctrd::content::v1::COMMIT) {
        req.set_total(desc.size);
        req.set_expected(desc.digest);
        for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
      }
      offset += static_cast<int64_t>(pending.size());
      pending.clear();
      if (stream->Write(req) && stream->Read(&resp)) return absl::OkStatus();
      finish();
      // Someone else committed the same blob meanwhile: stop producing.
      if (exists()) return absl::AlreadyExistsError(desc.digest);
      return Check(final_status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed")
                                     : final_status,
                   absl::StrCat("write content ", desc.digest));
    };
    absl::Status produced = producer([&](absl::string_view chunk) -> absl::Status {
      pending.append(chunk.data(), chunk.size());
      if (pending.size() >= kWriteChunk) return send(ctrd::content::v1::WRITE);
      return absl::OkStatus();
    });
    if (produced.ok()) produced = send(ctrd::content::v1::COMMIT);
    if (!produced.ok() && !finished) ctx->TryCancel();
    finish();
    if (exists() || absl::IsAlreadyExists(produced)) return absl::OkStatus();
    RETURN_IF_ERROR(produced);
    return Check(final_status, absl::StrCat("commit content ", desc.digest));
  }
  if (labels.empty()) return absl::OkStatus();
  // Present already (another pull, or an import): make sure it carries our
  // references.
  ctrd::content::v1::UpdateRequest req;
  req.mutable_info()->set_digest(desc.digest);
  for (const auto& [k, v] : labels) {
    (*req.mutable_info()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths(absl::StrCat("labels.", k));
  }
  ctrd::content::v1::UpdateResponse resp;
  auto ctx = Context(lease);
  return Check(content_->Update(ctx.get(), req, &resp),
               absl::StrCat("label content ", desc.digest));
}

absl::Status ContainerdRuntime::Unpack(const std::string& lease,
                                       const std::vector<Descriptor>& layers,
                                       const std::vector<std::string>& diff_ids) {
  std::string parent;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string chain =
        ChainId(std::vector<std::string>(diff_ids.begin(), diff_ids.begin() + i + 1));
    {
      ctrd::snapshots::v1::StatSnapshotRequest req;
      req.set_snapshotter(options_.snapshotter);
      req.set_key(chain);
      ctrd::snapshots::v1::StatSnapshotResponse resp;
      auto ctx = Context(lease);
      grpc::Status st = snapshots_->Stat(ctx.get(), req, &resp);
      if (st.ok()) {
        parent = chain;
        continue;
      }
      if (st.error_code() != grpc::StatusCode::NOT_FOUND) {
        RETURN_IF_ERROR(Check(st, "stat snapshot"));
      }
    }
    const std::string key = absl::StrCat("gantry-extract-", NewId().substr(0, 12), "-", chain);
    auto remove_key = [&] {
      ctrd::snapshots::v1::RemoveSnapshotRequest req;
      req.set_snapshotter(options_.snapshotter);
      req.set_key(key);
      google::protobuf::Empty resp;
      auto ctx = Context(lease);
      (void)snapshots_->Remove(ctx.get(), req, &resp);
    };
    ctrd::snapshots::v1::PrepareSnapshotRequest prep;
    prep.set_snapshotter(options_.snapshotter);
    prep.set_key(key);
    prep.set_parent(parent);
    ctrd::snapshots::v1::PrepareSnapshotResponse prepared;
    {
      auto ctx = Context(lease);
      RETURN_IF_ERROR(Check(snapshots_->Prepare(ctx.get(), prep, &prepared), "prepare layer"));
    }
    ctrd::diff::v1::ApplyRequest apply;
    *apply.mutable_diff() = ToProto(layers[i]);
    *apply.mutable_mounts() = prepared.mounts();
    ctrd::diff::v1::ApplyResponse applied;
    {
      auto ctx = Context(lease);
      if (auto st = Check(diff_->Apply(ctx.get(), apply, &applied),
                          absl::StrCat("apply layer ", layers[i].digest));
          !st.ok()) {
        remove_key();
        return st;
      }
    }
    if (applied.applied().digest() != diff_ids[i]) {
      remove_key();
      return absl::DataLossError(absl::StrCat("layer ", layers[i].digest, " unpacks to ",
                                              applied.applied().digest(),
                                              ", but the image "
                                              "config says ",
                                              diff_ids[i]));
    }
    ctrd::snapshots::v1::CommitSnapshotRequest commit;
    commit.set_snapshotter(options_.snapshotter);
    commit.set_name(chain);
    commit.set_key(key);
    google::protobuf::Empty empty;
    auto ctx = Context(lease);
    grpc::Status st = snapshots_->Commit(ctx.get(), commit, &empty);
    if (st.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      remove_key();  // another pull committed the same layer first
    } else {
      RETURN_IF_ERROR(Check(st, "commit layer"));
    }
    parent = chain;
  }
  return absl::OkStatus();
}

absl::Status ContainerdRuntime::PutImage(const std::string& name, const Descriptor& target) {
  ctrd::images::v1::CreateImageRequest req;
  req.mutable_image()->set_name(name);
  *req.mutable_image()->mutable_target() = ToProto(target);
  ctrd::images::v1::CreateImageResponse resp;
  auto ctx = Context();
  grpc::Status st = images_->Create(ctx.get(), req, &resp);
  if (st.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
    return Check(st, absl::StrCat("create image ", name));
  }
  ctrd::images::v1::UpdateImageRequest update;
  *update.mutable_image() = req.image();
  update.mutable_update_mask()->add_paths("target");
  ctrd::images::v1::UpdateImageResponse updated;
  auto uctx = Context();
  return Check(images_->Update(uctx.get(), update, &updated), absl::StrCat("update image ", name));
}

absl::Status ContainerdRuntime::PullImage(const registry::Reference& ref,
                                          registry::RegistryClient& reg) {
  ASSIGN_OR_RETURN(auto pull_lease, NewLease("pull", absl::Hours(1)));
  const std::string& lease = pull_lease->id();

  ASSIGN_OR_RETURN(auto root, reg.GetManifest(ref));
  const Descriptor root_desc{root.media_type, root.digest, static_cast<int64_t>(root.body.size())};
  Descriptor manifest_desc = root_desc;
  std::string manifest_body = root.body;
  if (registry::IsIndexType(root.media_type)) {
    ASSIGN_OR_RETURN(auto entries, registry::ParseIndex(root.body));
    ASSIGN_OR_RETURN(auto chosen, registry::SelectPlatform(entries, "linux", "amd64"));
    ASSIGN_OR_RETURN(auto child, reg.GetManifest(ref.WithDigest(chosen.digest)));
    manifest_desc = {child.media_type, child.digest, static_cast<int64_t>(child.body.size())};
    manifest_body = std::move(child.body);
  } else if (!registry::IsManifestType(root.media_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported manifest media type \"", root.media_type, "\""));
  }
  ASSIGN_OR_RETURN(auto manifest, registry::ParseManifest(manifest_body, manifest_desc.media_type));
  std::string config_body;
  RETURN_IF_ERROR(reg.FetchBlob(ref, manifest.config, [&](absl::string_view chunk) {
    config_body.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(auto config, ParseImageConfig(config_body));
  if (config.diff_ids.size() != manifest.layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the manifest lists ", manifest.layers.size(),
                                                   " layers but the config ",
                                                   config.diff_ids.size()));
  }
  const std::string chain = ChainId(config.diff_ids);

  // Leaves first, so every reference a label makes already exists.
  int fetched = 0;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const Descriptor& layer = manifest.layers[i];
    ASSIGN_OR_RETURN(bool present, HasContent(layer.digest, lease));
    if (present) continue;
    fetched++;
    RETURN_IF_ERROR(WriteContent(lease, layer, {{kLabelUncompressed, config.diff_ids[i]}},
                                 [&](const std::function<absl::Status(absl::string_view)>& sink) {
                                   return reg.FetchBlob(ref, layer, sink);
                                 }));
  }
  auto from_memory = [](const std::string& body) {
    return
        [&body](const std::function<absl::Status(absl::string_view)>& sink) { return sink(body); };
  };
  RETURN_IF_ERROR(
      WriteContent(lease, manifest.config,
                   {{absl::StrCat("containerd.io/gc.ref.snapshot.", options_.snapshotter), chain}},
                   from_memory(config_body)));
  std::map<std::string, std::string> manifest_labels = {
      {"containerd.io/gc.ref.content.config", manifest.config.digest}};
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    manifest_labels[absl::StrCat("containerd.io/gc.ref.content.l.", i)] = manifest.layers[i].digest;
  }
  RETURN_IF_ERROR(WriteContent(lease, manifest_desc, manifest_labels, from_memory(manifest_body)));
  if (root_desc.digest != manifest_desc.digest) {
    RETURN_IF_ERROR(WriteContent(lease, root_desc,
                                 {{"containerd.io/gc.ref.content.m.0", manifest_desc.digest}},
                                 from_memory(root.body)));
  }
  RETURN_IF_ERROR(Unpack(lease, manifest.layers, config.diff_ids));
  RETURN_IF_ERROR(PutImage(ref.String(), root_desc));
  spdlog::info("pulled {} ({}; {} of {} layer(s) fetched)", ref.String(), root_desc.digest, fetched,
               manifest.layers.size());
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ContainerdRuntime::ImageSize(const std::string& digest,
                                                     const std::string& media_type) {
  {
    std::lock_guard<std::mutex> lock(size_mu_);
    if (auto it = sizes_.find(digest); it != sizes_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::string body, ReadBlob(digest));
  std::string manifest_body = body;
  std::string type = registry::DeclaredMediaType(body, media_type);
  if (registry::IsIndexType(type)) {
    ASSIGN_OR_RETURN(auto entries, registry::ParseIndex(body));
    ASSIGN_OR_RETURN(auto chosen, registry::SelectPlatform(entries, "linux", "amd64"));
    ASSIGN_OR_RETURN(manifest_body, ReadBlob(chosen.digest));
    type = chosen.media_type;
  }
  ASSIGN_OR_RETURN(auto manifest, registry::ParseManifest(manifest_body, type));
  int64_t size = manifest.config.size;
  for (const auto& l : manifest.layers) size += l.size;
  std::lock_guard<std::mutex> lock(size_mu_);
  sizes_[digest] = size;
  return size;
}

absl::StatusOr<std::vector<ImageInfo>> ContainerdRuntime::ListImages() {
  ctrd::images::v1::ListImagesRequest req;
  ctrd::images::v1::ListImagesResponse resp;
  auto ctx = Context();
  RETURN_IF_ERROR(Check(images_->List(ctx.get(), req, &resp), "list images"));
  std::vector<ImageInfo> out;
  for (const auto& image : resp.images()) {
    ImageInfo info;
    info.name = image.name();
    info.digest = image.target().digest();
    auto size = ImageSize(info.digest, image.target().media_type());
    info.size = size.ok() ? *size : 0;
    out.push_back(std::move(info));
  }
  return out;
}

absl::Status ContainerdRuntime::RemoveImage(const std::string& name) {
  ctrd::images::v1::DeleteImageRequest req;
  req.set_name(name);
  req.set_sync(true);  // collect its content and snapshots now
  google::protobuf::Empty resp;
  auto ctx = Context();
  grpc::Status st = images_->Delete(ctx.get(), req, &resp);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  return Check(st, absl::StrCat("remove image ", name));
}

}  // namespace gantry::agent
