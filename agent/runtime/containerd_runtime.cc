#include "agent/runtime/containerd_runtime.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "grpcpp/create_channel.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

namespace ctrd = containerd::services;
using nlohmann::json;

namespace {

constexpr char kOciSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

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
    const auto platform = m.value("platform", json::object());
    if (platform.value("os", "") == "linux" && platform.value("architecture", "") == "amd64") {
      return m.value("digest", "");
    }
  }
  return absl::NotFoundError(absl::StrCat("image ", image, " has no linux/amd64 manifest"));
}

std::shared_ptr<grpc::Channel> Dial(const std::string& socket) {
  grpc::ChannelArguments args;
  // Image configs and indexes are small, but leave room.
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("unix://", socket),
                                   grpc::InsecureChannelCredentials(), args);
}

}  // namespace

ContainerdRuntime::ContainerdRuntime(Options options)
    : ContainerdRuntime(options, Dial(options.socket)) {}

ContainerdRuntime::ContainerdRuntime(Options options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)), channel_(std::move(channel)) {
  containers_ = ctrd::containers::v1::Containers::NewStub(channel_);
  content_ = ctrd::content::v1::Content::NewStub(channel_);
  diff_ = ctrd::diff::v1::Diff::NewStub(channel_);
  leases_ = ctrd::leases::v1::Leases::NewStub(channel_);
  images_ = ctrd::images::v1::Images::NewStub(channel_);
  snapshots_ = ctrd::snapshots::v1::Snapshots::NewStub(channel_);
  tasks_ = ctrd::tasks::v1::Tasks::NewStub(channel_);
  version_ = ctrd::version::v1::Version::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> ContainerdRuntime::Context(const std::string& lease) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", options_.ns);
  if (!lease.empty()) ctx->AddMetadata("containerd-lease", lease);
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.call_timeout));
  return ctx;
}

absl::Status ContainerdRuntime::Check(const grpc::Status& status, absl::string_view what) const {
  if (status.ok()) return absl::OkStatus();
  absl::Status st = FromGrpcStatus(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(
        absl::StrCat("containerd at ", options_.socket, " is not answering (", what, ": ",
                     status.error_message(), "); is containerd running?"));
  }
  return Annotate(st, absl::StrCat("containerd ", what));
}

absl::Status ContainerdRuntime::Ping() {
  google::protobuf::Empty req;
  ctrd::version::v1::VersionResponse resp;
  auto ctx = Context();
  return Check(version_->Version(ctx.get(), req, &resp), "version");
}

absl::StatusOr<std::string> ContainerdRuntime::ReadBlob(const std::string& digest) {
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

absl::StatusOr<ContainerdRuntime::ResolvedImage> ContainerdRuntime::ResolveImage(
    const std::string& name) {
  ctrd::images::v1::GetImageRequest req;
  req.set_name(name);
  ctrd::images::v1::GetImageResponse resp;
  auto ctx = Context();
  grpc::Status status = images_->Get(ctx.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(absl::StrCat("image ", name, " is not in containerd namespace ",
                                            options_.ns, " on this node; import it with `ctr -n ",
                                            options_.ns, " images import IMAGE.tar`"));
  }
  RETURN_IF_ERROR(Check(status, absl::StrCat("get image ", name)));
  std::string manifest_digest = resp.image().target().digest();
  if (IsIndex(resp.image().target().media_type())) {
    ASSIGN_OR_RETURN(std::string index, ReadBlob(manifest_digest));
    ASSIGN_OR_RETURN(manifest_digest, SelectManifest(index, name));
  }
  ASSIGN_OR_RETURN(std::string manifest_text, ReadBlob(manifest_digest));
  json manifest = json::parse(manifest_text, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("config")) {
    return absl::InvalidArgumentError(absl::StrCat("image ", name, ": malformed manifest"));
  }
  ASSIGN_OR_RETURN(std::string config_text, ReadBlob(manifest["config"].value("digest", "")));
  ResolvedImage out;
  ASSIGN_OR_RETURN(out.config, ParseImageConfig(config_text));
  out.chain_id = ChainId(out.config.diff_ids);
  return out;
}

absl::Status ContainerdRuntime::CheckImage(const std::string& image) {
  ASSIGN_OR_RETURN(auto resolved, ResolveImage(image));
  return CheckUnpacked(image, resolved.chain_id);
}

absl::Status ContainerdRuntime::CheckUnpacked(const std::string& image,
                                              const std::string& chain_id) {
  ctrd::snapshots::v1::StatSnapshotRequest req;
  req.set_snapshotter(options_.snapshotter);
  req.set_key(chain_id);
  ctrd::snapshots::v1::StatSnapshotResponse resp;
  auto ctx = Context();
  grpc::Status status = snapshots_->Stat(ctx.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(
        absl::StrCat("image ", image, " is present but not unpacked for the ", options_.snapshotter,
                     " snapshotter; import it again with `ctr -n ", options_.ns,
                     " images import` (which "
                     "unpacks)"));
  }
  return Check(status, "stat snapshot");
}

absl::StatusOr<std::unique_ptr<ContainerdRuntime::Lease>> ContainerdRuntime::NewLease(
    absl::string_view purpose, absl::Duration expiry) {
  auto lease =
      std::make_unique<Lease>(this, absl::StrCat("gantry-", purpose, "-", NewId().substr(0, 16)));
  ctrd::leases::v1::CreateRequest req;
  req.set_id(lease->id());
  (*req.mutable_labels())["containerd.io/gc.expire"] =
      absl::FormatTime(absl::RFC3339_sec, absl::Now() + expiry, absl::UTCTimeZone());
  ctrd::leases::v1::CreateResponse resp;
  auto ctx = Context();
  // On failure the Lease's destructor tries a Delete that finds nothing.
  RETURN_IF_ERROR(Check(leases_->Create(ctx.get(), req, &resp), "create lease"));
  return lease;
}

ContainerdRuntime::Lease::~Lease() {
  ctrd::leases::v1::DeleteRequest req;
  req.set_id(id_);
  google::protobuf::Empty resp;
  auto ctx = runtime_->Context();
  (void)runtime_->leases_->Delete(ctx.get(), req, &resp);
}

absl::Status ContainerdRuntime::Create(const ContainerSpec& spec) {
  ASSIGN_OR_RETURN(auto image, ResolveImage(spec.image));
  RETURN_IF_ERROR(CheckUnpacked(spec.image, image.chain_id));
  ASSIGN_OR_RETURN(std::string oci, BuildOciSpec(spec, image.config, options_.oci));
  // The snapshot belongs to no container until the container record names
  // it; the lease covers that gap.
  ASSIGN_OR_RETURN(auto lease, NewLease("create", absl::Minutes(10)));

  // The container's writable layer on top of the image's layer chain.
  google::protobuf::RepeatedPtrField<containerd::types::Mount> mounts;
  {
    ctrd::snapshots::v1::PrepareSnapshotRequest req;
    req.set_snapshotter(options_.snapshotter);
    req.set_key(spec.id);
    req.set_parent(image.chain_id);
    ctrd::snapshots::v1::PrepareSnapshotResponse resp;
    auto ctx = Context(lease->id());
    grpc::Status status = snapshots_->Prepare(ctx.get(), req, &resp);
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      ctrd::snapshots::v1::MountsRequest mreq;
      mreq.set_snapshotter(options_.snapshotter);
      mreq.set_key(spec.id);
      ctrd::snapshots::v1::MountsResponse mresp;
      auto mctx = Context();
      RETURN_IF_ERROR(Check(snapshots_->Mounts(mctx.get(), mreq, &mresp), "snapshot mounts"));
      mounts = mresp.mounts();
    } else {
      RETURN_IF_ERROR(Check(status, "prepare snapshot"));
      mounts = resp.mounts();
    }
  }

  auto cleanup_on_error = [&](absl::Status st) {
    (void)Remove(spec.id);
    return st;
  };
  {
    ctrd::containers::v1::CreateContainerRequest req;
    auto* c = req.mutable_container();
    c->set_id(spec.id);
    for (const auto& [k, v] : spec.labels) (*c->mutable_labels())[k] = v;
    c->set_image(spec.image);
    c->mutable_runtime()->set_name(options_.runtime);
    c->mutable_spec()->set_type_url(kOciSpecType);
    c->mutable_spec()->set_value(oci);
    c->set_snapshotter(options_.snapshotter);
    c->set_snapshot_key(spec.id);
    ctrd::containers::v1::CreateContainerResponse resp;
    auto ctx = Context(lease->id());
    if (auto st = Check(containers_->Create(ctx.get(), req, &resp), "create container"); !st.ok()) {
      return cleanup_on_error(st);
    }
  }

  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(spec.log_path).parent_path(), ec);
  if (ec) {
    return cleanup_on_error(absl::InternalError(
        absl::StrCat("create log directory for ", spec.log_path, ": ", ec.message())));
  }
  {
    ctrd::tasks::v1::CreateTaskRequest req;
    req.set_container_id(spec.id);
    *req.mutable_rootfs() = mounts;
    const std::string uri = absl::StrCat("file://", spec.log_path);
    req.set_stdout(uri);
    req.set_stderr(uri);
    ctrd::tasks::v1::CreateTaskResponse resp;
    auto ctx = Context();
    if (auto st = Check(tasks_->Create(ctx.get(), req, &resp), "create task"); !st.ok()) {
      return cleanup_on_error(st);
    }
  }
  return absl::OkStatus();
}

absl::Status ContainerdRuntime::Start(const std::string& id) {
  ctrd::tasks::v1::StartRequest req;
  req.set_container_id(id);
  ctrd::tasks::v1::StartResponse resp;
  auto ctx = Context();
  return Check(tasks_->Start(ctx.get(), req, &resp), absl::StrCat("start ", id));
}

absl::Status ContainerdRuntime::Signal(const std::string& id, int signal, bool all) {
  ctrd::tasks::v1::KillRequest req;
  req.set_container_id(id);
  req.set_signal(static_cast<uint32_t>(signal));
  req.set_all(all);
  google::protobuf::Empty resp;
  auto ctx = Context();
  grpc::Status status = tasks_->Kill(ctx.get(), req, &resp);
  // The process may have exited meanwhile; that is what we wanted.
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  return Check(status, absl::StrCat("signal ", signal, " to ", id));
}

absl::Status ContainerdRuntime::Remove(const std::string& id) {
  {
    ctrd::tasks::v1::DeleteTaskRequest req;
    req.set_container_id(id);
    ctrd::tasks::v1::DeleteResponse resp;
    auto ctx = Context();
    grpc::Status status = tasks_->Delete(ctx.get(), req, &resp);
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      RETURN_IF_ERROR(Check(status, absl::StrCat("delete task ", id)));
    }
  }
  {
    ctrd::containers::v1::DeleteContainerRequest req;
    req.set_id(id);
    google::protobuf::Empty resp;
    auto ctx = Context();
    grpc::Status status = containers_->Delete(ctx.get(), req, &resp);
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      RETURN_IF_ERROR(Check(status, absl::StrCat("delete container ", id)));
    }
  }
  {
    ctrd::snapshots::v1::RemoveSnapshotRequest req;
    req.set_snapshotter(options_.snapshotter);
    req.set_key(id);
    google::protobuf::Empty resp;
    auto ctx = Context();
    grpc::Status status = snapshots_->Remove(ctx.get(), req, &resp);
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      RETURN_IF_ERROR(Check(status, absl::StrCat("remove snapshot ", id)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ContainerInfo>> ContainerdRuntime::Recover() { return List(); }

absl::StatusOr<std::vector<ContainerInfo>> ContainerdRuntime::List() {
  ctrd::containers::v1::ListContainersRequest creq;
  creq.add_filters(absl::StrCat("labels.\"", kLabelTaskId, "\",labels.\"", kLabelNode, "\"==\"",
                                options_.node_name, "\""));
  ctrd::containers::v1::ListContainersResponse cresp;
  {
    auto ctx = Context();
    RETURN_IF_ERROR(Check(containers_->List(ctx.get(), creq, &cresp), "list containers"));
  }
  ctrd::tasks::v1::ListTasksRequest treq;
  ctrd::tasks::v1::ListTasksResponse tresp;
  {
    auto ctx = Context();
    RETURN_IF_ERROR(Check(tasks_->List(ctx.get(), treq, &tresp), "list tasks"));
  }
  std::map<std::string, const containerd::v1::types::Process*> processes;
  // containerd fills `id` (the container's id) in task listings.
  for (const auto& p : tresp.tasks()) processes[p.id().empty() ? p.container_id() : p.id()] = &p;

  std::vector<ContainerInfo> out;
  for (const auto& c : cresp.containers()) {
    ContainerInfo info;
    info.id = c.id();
    for (const auto& [k, v] : c.labels()) info.labels[k] = v;
    auto it = processes.find(c.id());
    if (it == processes.end()) {
      info.state = ContainerState::kNoTask;
    } else {
      switch (it->second->status()) {
        case containerd::v1::types::CREATED:
          info.state = ContainerState::kCreated;
          break;
        case containerd::v1::types::STOPPED:
          info.state = ContainerState::kStopped;
          info.exit_code = static_cast<int>(it->second->exit_status());
          info.exited_at = FromProtoTime(it->second->exited_at());
          break;
        default:
          info.state = ContainerState::kRunning;
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace gantry::agent

namespace gantry::agent {

absl::StatusOr<ExecResult> ContainerdRuntime::Exec(const std::string& id,
                                                   const std::vector<std::string>& args,
                                                   absl::Duration timeout) {
  // The container's own process spec (environment, user, working directory)
  // with our arguments.
  ctrd::containers::v1::GetContainerRequest get;
  get.set_id(id);
  ctrd::containers::v1::GetContainerResponse container;
  {
    auto ctx = Context();
    RETURN_IF_ERROR(Check(containers_->Get(ctx.get(), get, &container), "get container"));
  }
  json spec = json::parse(container.container().spec().value(), nullptr, false);
  if (spec.is_discarded() || !spec.contains("process")) {
    return absl::InternalError(absl::StrCat("container ", id, " has no process spec"));
  }
  json process = spec["process"];
  process["args"] = args;
  process["terminal"] = false;

  const std::string exec_id = absl::StrCat("exec-", NewId().substr(0, 12));
  std::error_code ec;
  std::filesystem::create_directories(options_.exec_output_dir, ec);
  const std::string out_path =
      (std::filesystem::path(options_.exec_output_dir) / (exec_id + ".out")).string();
  struct Cleanup {
    ContainerdRuntime* self;
    std::string id, exec_id, out_path;
    ~Cleanup() {
      ctrd::tasks::v1::DeleteProcessRequest req;
      req.set_container_id(id);
      req.set_exec_id(exec_id);
      ctrd::tasks::v1::DeleteResponse resp;
      auto ctx = self->Context();
      (void)self->tasks_->DeleteProcess(ctx.get(), req, &resp);
      std::error_code ec;
      std::filesystem::remove(out_path, ec);
    }
  } cleanup{this, id, exec_id, out_path};

  {
    ctrd::tasks::v1::ExecProcessRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    req.set_stdout(absl::StrCat("file://", out_path));
    req.set_stderr(absl::StrCat("file://", out_path));
    req.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
    req.mutable_spec()->set_value(process.dump());
    google::protobuf::Empty resp;
    auto ctx = Context();
    RETURN_IF_ERROR(Check(tasks_->Exec(ctx.get(), req, &resp), "exec"));
  }
  {
    ctrd::tasks::v1::StartRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    ctrd::tasks::v1::StartResponse resp;
    auto ctx = Context();
    RETURN_IF_ERROR(Check(tasks_->Start(ctx.get(), req, &resp), "start exec"));
  }
  ctrd::tasks::v1::WaitRequest wait;
  wait.set_container_id(id);
  wait.set_exec_id(exec_id);
  ctrd::tasks::v1::WaitResponse waited;
  grpc::ClientContext wctx;
  wctx.AddMetadata("containerd-namespace", options_.ns);
  wctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  grpc::Status st = tasks_->Wait(&wctx, wait, &waited);
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    ctrd::tasks::v1::KillRequest kill;
    kill.set_container_id(id);
    kill.set_exec_id(exec_id);
    kill.set_signal(9);
    google::protobuf::Empty empty;
    auto kctx = Context();
    (void)tasks_->Kill(kctx.get(), kill, &empty);
    // Wait for the kill so the process can be deleted.
    grpc::ClientContext w2;
    w2.AddMetadata("containerd-namespace", options_.ns);
    w2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    (void)tasks_->Wait(&w2, wait, &waited);
    return absl::DeadlineExceededError(
        absl::StrCat("exec in ", id, " took longer than ", absl::FormatDuration(timeout)));
  }
  RETURN_IF_ERROR(Check(st, "wait for exec"));
  ExecResult out;
  out.exit_code = static_cast<int>(waited.exit_status());
  std::ifstream in(out_path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr size_t kKeep = 512;
  if (text.size() > kKeep) text = text.substr(text.size() - kKeep);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  out.output = std::move(text);
  return out;
}

}  // namespace gantry::agent
