#include "agent/runtime/containerd_images.h"

#include <google/protobuf/field_mask.pb.h>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "common/registry/manifest.h"
#include "common/status_util.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

namespace ctrd = containerd::services;
using nlohmann::json;
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

bool IsIndex(const std::string& media_type) {
  return media_type == "application/vnd.oci.image.index.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
}

// Picks the linux/amd64 manifest from an image index.
absl::StatusOr<std::string> SelectManifest(const std::string& index_json,
                                           const std::string& image) {
  json index = json::parse(index_json, nullptr, false);
  if (index.is_discarded() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("image ", image, ": malformed index"));
  }
  for (const auto& m : index["manifests"]) {
    const auto& platform = JsonMember(m, "platform");
    if (JsonText(platform, "os") == "linux" && JsonText(platform, "architecture") == "amd64") {
      return JsonText(m, "digest");
    }
  }
  return absl::NotFoundError(absl::StrCat("image ", image, " has no linux/amd64 manifest"));
}

}  // namespace

absl::StatusOr<ContainerdImages::Resolved> ContainerdImages::Resolve(
    const std::string& name) const {
  ctrd::images::v1::GetImageRequest req;
  req.set_name(name);
  ctrd::images::v1::GetImageResponse resp;
  auto ctx = client_->Context();
  grpc::Status status = client_->images().Get(ctx.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(absl::StrCat("image ", name, " is not in containerd namespace ",
                                            client_->ns(), " on this node; import it with `ctr -n ",
                                            client_->ns(), " images import IMAGE.tar`"));
  }
  RETURN_IF_ERROR(client_->Check(status, absl::StrCat("get image ", name)));
  std::string manifest_digest = resp.image().target().digest();
  if (IsIndex(resp.image().target().media_type())) {
    ASSIGN_OR_RETURN(std::string index, client_->ReadBlob(manifest_digest));
    ASSIGN_OR_RETURN(manifest_digest, SelectManifest(index, name));
  }
  ASSIGN_OR_RETURN(std::string manifest_text, client_->ReadBlob(manifest_digest));
  json manifest = json::parse(manifest_text, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("config")) {
    return absl::InvalidArgumentError(absl::StrCat("image ", name, ": malformed manifest"));
  }
  ASSIGN_OR_RETURN(std::string config_text,
                   client_->ReadBlob(JsonText(JsonMember(manifest, "config"), "digest")));
  Resolved out;
  ASSIGN_OR_RETURN(out.config, ParseImageConfig(config_text));
  out.chain_id = ChainId(out.config.diff_ids);
  return out;
}

absl::Status ContainerdImages::CheckUnpacked(const std::string& image,
                                             const std::string& chain_id) const {
  ctrd::snapshots::v1::StatSnapshotRequest req;
  req.set_snapshotter(snapshotter_);
  req.set_key(chain_id);
  ctrd::snapshots::v1::StatSnapshotResponse resp;
  auto ctx = client_->Context();
  grpc::Status status = client_->snapshots().Stat(ctx.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(
        absl::StrCat("image ", image, " is present but not unpacked for the ", snapshotter_,
                     " snapshotter; import it again with `ctr -n ", client_->ns(),
                     " images import` (which "
                     "unpacks)"));
  }
  return client_->Check(status, "stat snapshot");
}

absl::StatusOr<bool> ContainerdImages::HasContent(const std::string& digest,
                                                  const std::string& lease) const {
  ctrd::content::v1::InfoRequest req;
  req.set_digest(digest);
  ctrd::content::v1::InfoResponse resp;
  auto ctx = client_->Context(lease);
  grpc::Status st = client_->content().Info(ctx.get(), req, &resp);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  RETURN_IF_ERROR(client_->Check(st, absl::StrCat("content info ", digest)));
  return true;
}

absl::Status ContainerdImages::WriteContent(const std::string& lease, const Descriptor& desc,
                                            const std::map<std::string, std::string>& labels,
                                            const Producer& producer) const {
  ASSIGN_OR_RETURN(bool present, HasContent(desc.digest, lease));
  if (present) return LabelContent(lease, desc, labels);
  auto ctx = client_->Context(lease);
  // A fresh ref per attempt: an interrupted earlier write cannot lock it.
  const std::string ref = absl::StrCat("gantry-", desc.digest, "-", NewId().substr(0, 8));
  auto stream = client_->content().Write(ctx.get());
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
    return client_->Check(final_status.ok()
                              ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed")
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
  return client_->Check(final_status, absl::StrCat("commit content ", desc.digest));
}

absl::Status ContainerdImages::LabelContent(
    const std::string& lease, const Descriptor& desc,
    const std::map<std::string, std::string>& labels) const {
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
  auto ctx = client_->Context(lease);
  return client_->Check(client_->content().Update(ctx.get(), req, &resp),
                        absl::StrCat("label content ", desc.digest));
}

absl::Status ContainerdImages::Unpack(const std::string& lease,
                                      const std::vector<Descriptor>& layers,
                                      const std::vector<std::string>& diff_ids) const {
  std::string parent;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string chain =
        ChainId(std::vector<std::string>(diff_ids.begin(), diff_ids.begin() + i + 1));
    ctrd::snapshots::v1::StatSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(chain);
    ctrd::snapshots::v1::StatSnapshotResponse resp;
    auto ctx = client_->Context(lease);
    grpc::Status st = client_->snapshots().Stat(ctx.get(), req, &resp);
    if (!st.ok()) {
      if (st.error_code() != grpc::StatusCode::NOT_FOUND) {
        RETURN_IF_ERROR(client_->Check(st, "stat snapshot"));
      }
      RETURN_IF_ERROR(UnpackLayer(lease, layers[i], diff_ids[i], parent, chain));
    }
    parent = chain;
  }
  return absl::OkStatus();
}

absl::Status ContainerdImages::UnpackLayer(const std::string& lease, const Descriptor& layer,
                                           const std::string& diff_id, const std::string& parent,
                                           const std::string& chain) const {
  const std::string key = absl::StrCat("gantry-extract-", NewId().substr(0, 12), "-", chain);
  auto remove_key = [&] {
    ctrd::snapshots::v1::RemoveSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    google::protobuf::Empty resp;
    auto ctx = client_->Context(lease);
    (void)client_->snapshots().Remove(ctx.get(), req, &resp);
  };
  ctrd::snapshots::v1::PrepareSnapshotRequest prep;
  prep.set_snapshotter(snapshotter_);
  prep.set_key(key);
  prep.set_parent(parent);
  ctrd::snapshots::v1::PrepareSnapshotResponse prepared;
  {
    auto ctx = client_->Context(lease);
    RETURN_IF_ERROR(
        client_->Check(client_->snapshots().Prepare(ctx.get(), prep, &prepared), "prepare layer"));
  }
  ctrd::diff::v1::ApplyRequest apply;
  *apply.mutable_diff() = ToProto(layer);
  *apply.mutable_mounts() = prepared.mounts();
  ctrd::diff::v1::ApplyResponse applied;
  {
    auto ctx = client_->Context(lease);
    if (auto st = client_->Check(client_->diff().Apply(ctx.get(), apply, &applied),
                                 absl::StrCat("apply layer ", layer.digest));
        !st.ok()) {
      remove_key();
      return st;
    }
  }
  if (applied.applied().digest() != diff_id) {
    remove_key();
    return absl::DataLossError(absl::StrCat("layer ", layer.digest, " unpacks to ",
                                            applied.applied().digest(),
                                            ", but the image config says ", diff_id));
  }
  ctrd::snapshots::v1::CommitSnapshotRequest commit;
  commit.set_snapshotter(snapshotter_);
  commit.set_name(chain);
  commit.set_key(key);
  google::protobuf::Empty empty;
  auto ctx = client_->Context(lease);
  grpc::Status st = client_->snapshots().Commit(ctx.get(), commit, &empty);
  if (st.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    remove_key();  // another pull committed the same layer first
    return absl::OkStatus();
  }
  return client_->Check(st, "commit layer");
}

absl::Status ContainerdImages::PutImage(const std::string& name, const Descriptor& target) const {
  ctrd::images::v1::CreateImageRequest req;
  req.mutable_image()->set_name(name);
  *req.mutable_image()->mutable_target() = ToProto(target);
  ctrd::images::v1::CreateImageResponse resp;
  auto ctx = client_->Context();
  grpc::Status st = client_->images().Create(ctx.get(), req, &resp);
  if (st.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
    return client_->Check(st, absl::StrCat("create image ", name));
  }
  ctrd::images::v1::UpdateImageRequest update;
  *update.mutable_image() = req.image();
  update.mutable_update_mask()->add_paths("target");
  ctrd::images::v1::UpdateImageResponse updated;
  auto uctx = client_->Context();
  return client_->Check(client_->images().Update(uctx.get(), update, &updated),
                        absl::StrCat("update image ", name));
}

absl::Status ContainerdImages::Pull(const registry::Reference& ref, registry::RegistryClient& reg) {
  ASSIGN_OR_RETURN(auto pull_lease, client_->NewLease("pull", absl::Hours(1)));
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
                   {{absl::StrCat("containerd.io/gc.ref.snapshot.", snapshotter_), chain}},
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

absl::StatusOr<int64_t> ContainerdImages::ImageSize(const std::string& digest,
                                                    const std::string& media_type) {
  {
    std::lock_guard<std::mutex> lock(size_mu_);
    if (auto it = sizes_.find(digest); it != sizes_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::string body, client_->ReadBlob(digest));
  std::string manifest_body = body;
  std::string type = registry::DeclaredMediaType(body, media_type);
  if (registry::IsIndexType(type)) {
    ASSIGN_OR_RETURN(auto entries, registry::ParseIndex(body));
    ASSIGN_OR_RETURN(auto chosen, registry::SelectPlatform(entries, "linux", "amd64"));
    ASSIGN_OR_RETURN(manifest_body, client_->ReadBlob(chosen.digest));
    type = chosen.media_type;
  }
  ASSIGN_OR_RETURN(auto manifest, registry::ParseManifest(manifest_body, type));
  int64_t size = manifest.config.size;
  for (const auto& l : manifest.layers) size += l.size;
  std::lock_guard<std::mutex> lock(size_mu_);
  sizes_[digest] = size;
  return size;
}

absl::StatusOr<std::vector<ImageInfo>> ContainerdImages::List() {
  ctrd::images::v1::ListImagesRequest req;
  ctrd::images::v1::ListImagesResponse resp;
  auto ctx = client_->Context();
  RETURN_IF_ERROR(client_->Check(client_->images().List(ctx.get(), req, &resp), "list images"));
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

absl::Status ContainerdImages::Remove(const std::string& name) {
  ctrd::images::v1::DeleteImageRequest req;
  req.set_name(name);
  req.set_sync(true);  // collect its content and snapshots now
  google::protobuf::Empty resp;
  auto ctx = client_->Context();
  grpc::Status st = client_->images().Delete(ctx.get(), req, &resp);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  return client_->Check(st, absl::StrCat("remove image ", name));
}

}  // namespace gantry::agent
