// The fake containerd's Snapshots and Diff services.
//
// Snapshots: one snapshotter, whose active snapshots (Prepare) and committed
// ones (Commit) share one key space. A parent must exist and be committed;
// a snapshot with children cannot be removed. Mounts name the snapshot's
// directories, so Diff.Apply can find the snapshot it unpacks into.
//
// Diff.Apply "unpacks" a layer from the content store into the active
// snapshot its mounts name, and answers with the layer's diff ID: the digest
// of an uncompressed tar layer itself, or what SetDiffResult chose.

#include "absl/strings/str_cat.h"
#include "agent/runtime/oci_spec.h"
#include "common/time_util.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "tests/fakes/fake_containerd_state.h"

namespace gantry::testing::containerd_fake {

namespace {

namespace snapshots = api::snapshots::v1;
namespace diff = api::diff::v1;

template <typename Field>
void SetMounts(const std::vector<containerd::types::Mount>& mounts, Field* field) {
  for (const auto& m : mounts) *field->Add() = m;
}

std::string DoesNotExist(absl::string_view key) {
  return absl::StrCat("snapshot ", key, " does not exist");
}

class SnapshotsService final : public snapshots::Snapshots::Service {
 public:
  explicit SnapshotsService(State* state) : state_(state) {}

  grpc::Status Prepare(grpc::ServerContext* ctx, const snapshots::PrepareSnapshotRequest* req,
                       snapshots::PrepareSnapshotResponse* resp) override {
    std::string lease;
    if (auto st = state_->Enter(ctx, "Snapshots.Prepare", &lease); !st.ok()) return st;
    if (auto st = state_->CheckSnapshotter(req->snapshotter()); !st.ok()) return st;
    if (req->key().empty()) return InvalidArgument("snapshot key must not be empty");
    MutexLock lock(&state_->mu);
    if (auto st = state_->CheckLease(lease); !st.ok()) return st;
    if (state_->snapshots.count(req->key()) > 0) {
      return AlreadyExists(absl::StrCat("snapshot \"", req->key(), "\""));
    }
    if (!req->parent().empty()) {
      auto parent = state_->snapshots.find(req->parent());
      if (parent == state_->snapshots.end()) {
        return NotFound(absl::StrCat("parent ", DoesNotExist(req->parent())));
      }
      if (!parent->second.committed) {
        return InvalidArgument(absl::StrCat("parent ", req->parent(), " is not committed"));
      }
    }
    Snapshot s;
    s.id = state_->next_snapshot_id++;
    s.parent = req->parent();
    s.labels = Labels(req->labels().begin(), req->labels().end());
    s.created = s.updated = absl::Now();
    state_->snapshots[req->key()] = std::move(s);
    if (!lease.empty()) state_->leases[lease].snapshots.insert(req->key());
    SetMounts(state_->MountsOf(req->key()), resp->mutable_mounts());
    return grpc::Status::OK;
  }

  grpc::Status Mounts(grpc::ServerContext* ctx, const snapshots::MountsRequest* req,
                      snapshots::MountsResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Snapshots.Mounts"); !st.ok()) return st;
    if (auto st = state_->CheckSnapshotter(req->snapshotter()); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (state_->snapshots.count(req->key()) == 0) return NotFound(DoesNotExist(req->key()));
    SetMounts(state_->MountsOf(req->key()), resp->mutable_mounts());
    return grpc::Status::OK;
  }

  grpc::Status Commit(grpc::ServerContext* ctx, const snapshots::CommitSnapshotRequest* req,
                      google::protobuf::Empty*) override {
    std::string lease;
    if (auto st = state_->Enter(ctx, "Snapshots.Commit", &lease); !st.ok()) return st;
    if (auto st = state_->CheckSnapshotter(req->snapshotter()); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (auto st = state_->CheckLease(lease); !st.ok()) return st;
    auto it = state_->snapshots.find(req->key());
    if (it == state_->snapshots.end()) return NotFound(DoesNotExist(req->key()));
    if (it->second.committed) {
      return FailedPrecondition(absl::StrCat("snapshot ", req->key(), " is not active"));
    }
    if (state_->snapshots.count(req->name()) > 0) {
      return AlreadyExists(absl::StrCat("snapshot \"", req->name(), "\""));
    }
    Snapshot s = std::move(it->second);
    state_->snapshots.erase(it);
    s.committed = true;
    s.updated = absl::Now();
    for (const auto& [k, v] : req->labels()) s.labels[k] = v;
    state_->snapshots[req->name()] = std::move(s);
    for (auto& [id, l] : state_->leases) l.snapshots.erase(req->key());
    if (!lease.empty()) state_->leases[lease].snapshots.insert(req->name());
    return grpc::Status::OK;
  }

  grpc::Status Remove(grpc::ServerContext* ctx, const snapshots::RemoveSnapshotRequest* req,
                      google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Snapshots.Remove"); !st.ok()) return st;
    if (auto st = state_->CheckSnapshotter(req->snapshotter()); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (state_->snapshots.count(req->key()) == 0) return NotFound(DoesNotExist(req->key()));
    if (state_->HasChildren(req->key())) {
      return FailedPrecondition("cannot remove snapshot with child");
    }
    state_->snapshots.erase(req->key());
    for (auto& [id, l] : state_->leases) l.snapshots.erase(req->key());
    return grpc::Status::OK;
  }

  grpc::Status Stat(grpc::ServerContext* ctx, const snapshots::StatSnapshotRequest* req,
                    snapshots::StatSnapshotResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Snapshots.Stat"); !st.ok()) return st;
    if (auto st = state_->CheckSnapshotter(req->snapshotter()); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->snapshots.find(req->key());
    if (it == state_->snapshots.end()) return NotFound(DoesNotExist(req->key()));
    auto* info = resp->mutable_info();
    info->set_name(req->key());
    info->set_parent(it->second.parent);
    info->set_kind(it->second.committed ? snapshots::COMMITTED : snapshots::ACTIVE);
    *info->mutable_created_at() = ToProtoTime(it->second.created);
    *info->mutable_updated_at() = ToProtoTime(it->second.updated);
    for (const auto& [k, v] : it->second.labels) (*info->mutable_labels())[k] = v;
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

bool IsUncompressedLayer(const std::string& media_type) {
  return media_type == "application/vnd.oci.image.layer.v1.tar" ||
         media_type == "application/vnd.docker.image.rootfs.diff.tar";
}

class DiffService final : public diff::Diff::Service {
 public:
  explicit DiffService(State* state) : state_(state) {}

  grpc::Status Apply(grpc::ServerContext* ctx, const diff::ApplyRequest* req,
                     diff::ApplyResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Diff.Apply"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    const std::string& layer = req->diff().digest();
    auto blob = state_->content.find(layer);
    if (blob == state_->content.end()) return NotFound(absl::StrCat("content digest ", layer));
    const std::string key = state_->ActiveSnapshotOf(req->mounts());
    if (key.empty()) return InvalidArgument("the mounts name no active snapshot");
    std::string diff_id;
    if (auto it = state_->diff_results.find(layer); it != state_->diff_results.end()) {
      diff_id = it->second;
    } else if (IsUncompressedLayer(req->diff().media_type())) {
      diff_id = agent::Sha256Digest(blob->second.data);
    } else {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          absl::StrCat("the fake containerd does not decompress ",
                                       req->diff().media_type(), " layers (SetDiffResult)"));
    }
    state_->snapshots[key].applied.push_back(layer);
    auto* applied = resp->mutable_applied();
    applied->set_media_type("application/vnd.oci.image.layer.v1.tar");
    applied->set_digest(diff_id);
    applied->set_size(static_cast<int64_t>(blob->second.data.size()));
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewSnapshotsService(State* state) {
  return std::make_unique<SnapshotsService>(state);
}

std::unique_ptr<grpc::Service> NewDiffService(State* state) {
  return std::make_unique<DiffService>(state);
}

}  // namespace gantry::testing::containerd_fake
