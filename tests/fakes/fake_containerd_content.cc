// The fake containerd's Content service: blobs by digest with labels, read
// in chunks, written through containerd's streaming Write protocol.
//
// A Write stream names its ingestion (ref) in the first message and holds
// it until the stream ends; another stream on the same ref is refused. Each
// message may carry the expected digest (already stored: ALREADY_EXISTS) and
// total size; WRITE and COMMIT messages append their data at `offset`, which
// must be the ingestion's current size (0 starts it over). COMMIT checks the
// size and digest (FAILED_PRECONDITION when they differ), stores the blob
// with the message's labels and ends the stream. Every message is answered
// once, and when the stream ends without error the last answer is sent once
// more. An uncommitted ingestion stays until aborted or collected.

#include "absl/strings/str_cat.h"
#include "agent/runtime/oci_spec.h"
#include "common/time_util.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "tests/fakes/fake_containerd_state.h"

namespace gantry::testing::containerd_fake {

namespace {

namespace content = api::content::v1;
using WriteStream =
    grpc::ServerReaderWriter<content::WriteContentResponse, content::WriteContentRequest>;

// Reads are answered in messages of at most this size.
constexpr size_t kReadChunk = 64 << 10;

void FillInfo(const std::string& digest, const Blob& blob, content::Info* info) {
  info->set_digest(digest);
  info->set_size(static_cast<int64_t>(blob.data.size()));
  *info->mutable_created_at() = ToProtoTime(blob.created);
  *info->mutable_updated_at() = ToProtoTime(blob.updated);
  for (const auto& [k, v] : blob.labels) (*info->mutable_labels())[k] = v;
}

// One Write stream.
class WriteSession {
 public:
  WriteSession(State* state, std::string lease) : state_(state), lease_(std::move(lease)) {}
  grpc::Status Run(grpc::ServerContext* ctx, WriteStream* stream);

 private:
  grpc::Status Open(const std::string& ref);
  void Close();
  grpc::Status Apply(const content::WriteContentRequest& req, content::WriteContentResponse* resp);
  grpc::Status Commit(Ingest& ingest, const content::WriteContentRequest& req)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu);

  State* const state_;
  const std::string lease_;
  std::string ref_;
  std::string expected_;
  int64_t total_ = 0;
  bool open_ = false;
};

grpc::Status WriteSession::Run(grpc::ServerContext* ctx, WriteStream* stream) {
  content::WriteContentRequest req;
  if (!stream->Read(&req)) return grpc::Status::OK;
  if (req.ref().empty()) return InvalidArgument("first message must have a reference");
  if (auto st = Open(req.ref()); !st.ok()) return st;
  content::WriteContentResponse resp;
  grpc::Status st;
  for (;;) {
    resp.Clear();
    st = Apply(req, &resp);
    if (!st.ok() || !stream->Write(resp) || req.action() == content::COMMIT) break;
    if (!stream->Read(&req)) {
      if (ctx->IsCancelled()) st = grpc::Status(grpc::StatusCode::CANCELLED, "context canceled");
      break;
    }
  }
  Close();
  if (st.ok()) stream->Write(resp);  // the closing repeat of the last answer
  return st;
}

grpc::Status WriteSession::Open(const std::string& ref) {
  MutexLock lock(&state_->mu);
  if (auto st = state_->CheckLease(lease_); !st.ok()) return st;
  auto [it, fresh] = state_->ingests.try_emplace(ref);
  if (it->second.locked) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat("ref ", ref, " locked"));
  }
  if (fresh) it->second.started = it->second.updated = absl::Now();
  it->second.locked = true;
  if (!lease_.empty()) state_->leases[lease_].ingests.insert(ref);
  ref_ = ref;
  open_ = true;
  return grpc::Status::OK;
}

void WriteSession::Close() {
  MutexLock lock(&state_->mu);
  if (!open_) return;
  open_ = false;
  if (auto it = state_->ingests.find(ref_); it != state_->ingests.end()) it->second.locked = false;
}

grpc::Status WriteSession::Apply(const content::WriteContentRequest& req,
                                 content::WriteContentResponse* resp) {
  MutexLock lock(&state_->mu);
  Ingest& ingest = state_->ingests[ref_];
  const auto offset = static_cast<int64_t>(ingest.data.size());
  resp->set_action(req.action());
  resp->set_offset(offset);
  if (!req.expected().empty()) {
    expected_ = req.expected();
    if (state_->content.count(expected_) > 0) {
      state_->ingests.erase(ref_);
      open_ = false;
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("blob with expected digest ", expected_, " exists"));
    }
  }
  if (req.total() > 0) total_ = req.total();
  if (req.action() == content::STAT) {
    resp->set_digest(agent::Sha256Digest(ingest.data));
    *resp->mutable_started_at() = ToProtoTime(ingest.started);
    *resp->mutable_updated_at() = ToProtoTime(ingest.updated);
    resp->set_total(total_);
    return grpc::Status::OK;
  }
  if (req.offset() > 0 && req.offset() != offset) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        absl::StrCat("write @", req.offset(), " must occur at current offset ",
                                     offset, ": out of range"));
  }
  if (req.offset() == 0) ingest.data.clear();
  ingest.data += req.data();
  ingest.updated = absl::Now();
  resp->set_offset(static_cast<int64_t>(ingest.data.size()));
  resp->set_digest(agent::Sha256Digest(ingest.data));
  if (req.action() == content::COMMIT) return Commit(ingest, req);
  return grpc::Status::OK;
}

grpc::Status WriteSession::Commit(Ingest& ingest, const content::WriteContentRequest& req) {
  const std::string digest = agent::Sha256Digest(ingest.data);
  const auto size = static_cast<int64_t>(ingest.data.size());
  if (total_ > 0 && size != total_) {
    return FailedPrecondition(
        absl::StrCat("\"", ref_, "\" failed size validation: ", size, " != ", total_));
  }
  if (!expected_.empty() && digest != expected_) {
    return FailedPrecondition(absl::StrCat("unexpected commit digest ", digest, ", expected ",
                                           expected_, " (ref \"", ref_, "\")"));
  }
  Blob blob{std::move(ingest.data), Labels(req.labels().begin(), req.labels().end()), absl::Now(),
            absl::Now()};
  state_->ingests.erase(ref_);
  open_ = false;
  if (state_->content.count(digest) > 0) return AlreadyExists(absl::StrCat("content ", digest));
  state_->content[digest] = std::move(blob);
  if (!lease_.empty()) {
    state_->leases[lease_].content.insert(digest);
    state_->leases[lease_].ingests.erase(ref_);
  }
  return grpc::Status::OK;
}

class ContentService final : public content::Content::Service {
 public:
  explicit ContentService(State* state) : state_(state) {}

  grpc::Status Info(grpc::ServerContext* ctx, const content::InfoRequest* req,
                    content::InfoResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Content.Info"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->content.find(req->digest());
    if (it == state_->content.end())
      return NotFound(absl::StrCat("content digest ", req->digest()));
    FillInfo(it->first, it->second, resp->mutable_info());
    return grpc::Status::OK;
  }

  grpc::Status Update(grpc::ServerContext* ctx, const content::UpdateRequest* req,
                      content::UpdateResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Content.Update"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->content.find(req->info().digest());
    if (it == state_->content.end()) {
      return NotFound(absl::StrCat("content digest ", req->info().digest()));
    }
    Labels& labels = it->second.labels;
    const auto& given = req->info().labels();
    if (req->update_mask().paths().empty()) labels = Labels(given.begin(), given.end());
    for (const std::string& path : req->update_mask().paths()) {
      if (path == "labels") {
        labels = Labels(given.begin(), given.end());
      } else if (path.rfind("labels.", 0) == 0) {
        const std::string key = path.substr(7);
        auto value = given.find(key);
        if (value == given.end() || value->second.empty()) {
          labels.erase(key);
        } else {
          labels[key] = value->second;
        }
      } else {
        return InvalidArgument(absl::StrCat("cannot update \"", path, "\" field on content info"));
      }
    }
    it->second.updated = absl::Now();
    FillInfo(it->first, it->second, resp->mutable_info());
    return grpc::Status::OK;
  }

  grpc::Status Delete(grpc::ServerContext* ctx, const content::DeleteContentRequest* req,
                      google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Content.Delete"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (state_->content.erase(req->digest()) == 0) {
      return NotFound(absl::StrCat("content digest ", req->digest()));
    }
    return grpc::Status::OK;
  }

  grpc::Status Read(grpc::ServerContext* ctx, const content::ReadContentRequest* req,
                    grpc::ServerWriter<content::ReadContentResponse>* writer) override {
    if (auto st = state_->Enter(ctx, "Content.Read"); !st.ok()) return st;
    std::string data;
    {
      MutexLock lock(&state_->mu);
      auto it = state_->content.find(req->digest());
      if (it == state_->content.end()) {
        return NotFound(absl::StrCat("content digest ", req->digest()));
      }
      data = it->second.data;
    }
    if (req->offset() < 0 || static_cast<size_t>(req->offset()) > data.size()) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "read offset out of range");
    }
    size_t end = data.size();
    if (req->size() > 0) end = std::min(end, static_cast<size_t>(req->offset() + req->size()));
    for (size_t off = static_cast<size_t>(req->offset()); off < end; off += kReadChunk) {
      content::ReadContentResponse chunk;
      chunk.set_offset(static_cast<int64_t>(off));
      chunk.set_data(data.substr(off, std::min(kReadChunk, end - off)));
      if (!writer->Write(chunk)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status Status(grpc::ServerContext* ctx, const content::StatusRequest* req,
                      content::StatusResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Content.Status"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->ingests.find(req->ref());
    if (it == state_->ingests.end()) return NotFound(absl::StrCat("ref ", req->ref()));
    auto* status = resp->mutable_status();
    status->set_ref(req->ref());
    status->set_offset(static_cast<int64_t>(it->second.data.size()));
    *status->mutable_started_at() = ToProtoTime(it->second.started);
    *status->mutable_updated_at() = ToProtoTime(it->second.updated);
    return grpc::Status::OK;
  }

  grpc::Status Write(grpc::ServerContext* ctx, WriteStream* stream) override {
    std::string lease;
    if (auto st = state_->Enter(ctx, "Content.Write", &lease); !st.ok()) return st;
    return WriteSession(state_, lease).Run(ctx, stream);
  }

  grpc::Status Abort(grpc::ServerContext* ctx, const content::AbortRequest* req,
                     google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Content.Abort"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (state_->ingests.erase(req->ref()) == 0) return NotFound(absl::StrCat("ref ", req->ref()));
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewContentService(State* state) {
  return std::make_unique<ContentService>(state);
}

}  // namespace gantry::testing::containerd_fake
