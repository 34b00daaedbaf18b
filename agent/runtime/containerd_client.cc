#include "agent/runtime/containerd_client.h"

#include "absl/strings/str_cat.h"
#include "agent/runtime/oci_spec.h"
#include "common/ids.h"
#include "common/status_util.h"
#include "grpcpp/create_channel.h"

namespace gantry::agent {

namespace ctrd = containerd::services;

std::shared_ptr<grpc::Channel> ContainerdClient::Dial(const std::string& socket) {
  grpc::ChannelArguments args;
  // Image configs and indexes are small, but leave room.
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("unix://", socket),
                                   grpc::InsecureChannelCredentials(), args);
}

ContainerdClient::ContainerdClient(Options options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)), channel_(std::move(channel)) {
  containers_ = ctrd::containers::v1::Containers::NewStub(channel_);
  content_ = ctrd::content::v1::Content::NewStub(channel_);
  diff_ = ctrd::diff::v1::Diff::NewStub(channel_);
  images_ = ctrd::images::v1::Images::NewStub(channel_);
  introspection_ = ctrd::introspection::v1::Introspection::NewStub(channel_);
  leases_ = ctrd::leases::v1::Leases::NewStub(channel_);
  snapshots_ = ctrd::snapshots::v1::Snapshots::NewStub(channel_);
  tasks_ = ctrd::tasks::v1::Tasks::NewStub(channel_);
  version_ = ctrd::version::v1::Version::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> ContainerdClient::Context(const std::string& lease,
                                                               absl::Duration timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", options_.ns);
  if (!lease.empty()) ctx->AddMetadata("containerd-lease", lease);
  const absl::Duration deadline =
      timeout == absl::InfiniteDuration() ? options_.call_timeout : timeout;
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  return ctx;
}

absl::Status ContainerdClient::Check(const grpc::Status& status, absl::string_view what) const {
  if (status.ok()) return absl::OkStatus();
  absl::Status st = FromGrpcStatus(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(
        absl::StrCat("containerd at ", options_.socket, " is not answering (", what, ": ",
                     status.error_message(), "); is containerd running?"));
  }
  return Annotate(st, absl::StrCat("containerd ", what));
}

absl::StatusOr<std::unique_ptr<ContainerdClient::Lease>> ContainerdClient::NewLease(
    absl::string_view purpose, absl::Duration expiry) const {
  auto lease =
      std::make_unique<Lease>(this, absl::StrCat("gantry-", purpose, "-", NewId().substr(0, 16)));
  ctrd::leases::v1::CreateRequest req;
  req.set_id(lease->id());
  // containerd compares the expiry with its own wall clock.
  (*req.mutable_labels())["containerd.io/gc.expire"] =
      absl::FormatTime(absl::RFC3339_sec, absl::Now() + expiry, absl::UTCTimeZone());
  ctrd::leases::v1::CreateResponse resp;
  auto ctx = Context();
  // On failure the Lease's destructor tries a Delete that finds nothing.
  RETURN_IF_ERROR(Check(leases_->Create(ctx.get(), req, &resp), "create lease"));
  return lease;
}

ContainerdClient::Lease::~Lease() {
  ctrd::leases::v1::DeleteRequest req;
  req.set_id(id_);
  google::protobuf::Empty resp;
  auto ctx = client_->Context();
  (void)client_->leases().Delete(ctx.get(), req, &resp);
}

absl::StatusOr<std::string> ContainerdClient::ReadBlob(const std::string& digest) const {
  ctrd::content::v1::ReadContentRequest req;
  req.set_digest(digest);
  auto ctx = Context();
  auto reader = content_->Read(ctx.get(), req);
  std::string data;
  ctrd::content::v1::ReadContentResponse chunk;
  while (reader->Read(&chunk)) data += chunk.data();
  RETURN_IF_ERROR(Check(reader->Finish(), absl::StrCat("read content ", digest)));
  if (Sha256Digest(data) != digest) {
    return absl::DataLossError(absl::StrCat("content ", digest, " does not match its digest"));
  }
  return data;
}

}  // namespace gantry::agent
