#include "agent/runtime/containerd_runtime.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "agent/runtime/image_users.h"
#include "agent/runtime/rootfs_files.h"
#include "common/ids.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

namespace ctrd = containerd::services;
using Mounts = google::protobuf::RepeatedPtrField<containerd::types::Mount>;
using nlohmann::json;

namespace {

constexpr char kOciSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
constexpr char kProcessSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Process";

ContainerdClient::Options ClientOptions(const ContainerdRuntime::Options& o) {
  return {o.socket, o.ns, o.call_timeout};
}

ContainerState StateOf(const containerd::v1::types::Process* process, ContainerInfo& info) {
  if (process == nullptr) return ContainerState::kNoTask;
  switch (process->status()) {
    case containerd::v1::types::CREATED:
      return ContainerState::kCreated;
    case containerd::v1::types::STOPPED:
      info.exit_code = static_cast<int>(process->exit_status());
      info.exited_at = FromProtoTime(process->exited_at());
      return ContainerState::kStopped;
    default:
      return ContainerState::kRunning;
  }
}

// The tail of an exec's output, without trailing newlines.
std::string ReadExecOutput(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr size_t kKeep = 512;
  if (text.size() > kKeep) text = text.substr(text.size() - kKeep);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

ContainerdRuntime::ContainerdRuntime(Options options)
    : ContainerdRuntime(options, ContainerdClient::Dial(options.socket)) {}

ContainerdRuntime::ContainerdRuntime(Options options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      client_(ClientOptions(options_), std::move(channel)),
      images_(&client_, options_.snapshotter) {}

absl::Status ContainerdRuntime::Ping() {
  google::protobuf::Empty req;
  ctrd::version::v1::VersionResponse resp;
  auto ctx = client_.Context();
  return client_.Check(client_.version().Version(ctx.get(), req, &resp), "version");
}

absl::StatusOr<std::string> ContainerdRuntime::StorageRoot() {
  ctrd::introspection::v1::PluginsRequest req;
  req.add_filters(absl::StrCat("type==io.containerd.snapshotter.v1,id==", options_.snapshotter));
  ctrd::introspection::v1::PluginsResponse resp;
  auto ctx = client_.Context();
  RETURN_IF_ERROR(
      client_.Check(client_.introspection().Plugins(ctx.get(), req, &resp), "introspection"));
  for (const auto& p : resp.plugins()) {
    if (auto root = p.exports().find("root"); root != p.exports().end() && !root->second.empty()) {
      return root->second;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("containerd reports no root for its ", options_.snapshotter, " snapshotter"));
}

absl::Status ContainerdRuntime::CheckImage(const std::string& image) {
  ASSIGN_OR_RETURN(auto resolved, images_.Resolve(image));
  return images_.CheckUnpacked(image, resolved.chain_id);
}

absl::Status ContainerdRuntime::PullImage(const registry::Reference& ref,
                                          registry::RegistryClient& registry) {
  return images_.Pull(ref, registry);
}

absl::StatusOr<std::vector<ImageInfo>> ContainerdRuntime::ListImages() { return images_.List(); }

absl::Status ContainerdRuntime::RemoveImage(const std::string& name) {
  return images_.Remove(name);
}

absl::Status ContainerdRuntime::Create(const ContainerSpec& spec) {
  ASSIGN_OR_RETURN(auto image, images_.Resolve(spec.image));
  RETURN_IF_ERROR(images_.CheckUnpacked(spec.image, image.chain_id));
  // The snapshot belongs to no container until the container record names
  // it; the lease covers that gap.
  ASSIGN_OR_RETURN(auto lease, client_.NewLease("create", absl::Minutes(10)));
  // The container's writable layer on top of the image's layer chain.
  ASSIGN_OR_RETURN(const Mounts mounts, PrepareSnapshot(spec.id, image.chain_id, lease->id()));
  // Users are looked up in the snapshot, so the spec is built after it.
  absl::StatusOr<ProcessUser> user = ProcessUserOf(spec, image.config, mounts);
  absl::StatusOr<std::string> oci =
      user.ok() ? BuildOciSpec(spec, image.config, *user, options_.oci) : user.status();
  absl::Status st = oci.status();
  if (st.ok()) st = CreateContainer(spec, *oci, lease->id());
  if (st.ok()) st = CreateTask(spec, mounts);
  if (!st.ok()) (void)Remove(spec.id);
  return st;
}

absl::StatusOr<ProcessUser> ContainerdRuntime::ProcessUserOf(const ContainerSpec& spec,
                                                             const ImageConfig& image,
                                                             const Mounts& mounts) {
  const std::string& user = spec.user.empty() ? image.user : spec.user;
  if (user.empty() || user == "root" || user == "0" || user == "0:0") return ProcessUser{};
  std::vector<RootMount> roots;
  for (const auto& m : mounts) {
    roots.push_back({m.type(), m.source(), {m.options().begin(), m.options().end()}});
  }
  ASSIGN_OR_RETURN(std::vector<std::string> layers, RootfsLayers(roots));
  ASSIGN_OR_RETURN(std::optional<std::string> passwd, ReadRootfsFile(layers, "etc/passwd"));
  ASSIGN_OR_RETURN(std::optional<std::string> group, ReadRootfsFile(layers, "etc/group"));
  auto resolved = ResolveUser(user, passwd.value_or(""), group.value_or(""));
  if (!resolved.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", spec.image, ": ", resolved.status().message(),
        spec.user.empty() ? " (the image's own USER)" : " (the container's user field)"));
  }
  return resolved;
}

absl::StatusOr<Mounts> ContainerdRuntime::PrepareSnapshot(const std::string& id,
                                                          const std::string& parent,
                                                          const std::string& lease) {
  ctrd::snapshots::v1::PrepareSnapshotRequest req;
  req.set_snapshotter(options_.snapshotter);
  req.set_key(id);
  req.set_parent(parent);
  ctrd::snapshots::v1::PrepareSnapshotResponse resp;
  auto ctx = client_.Context(lease);
  grpc::Status status = client_.snapshots().Prepare(ctx.get(), req, &resp);
  if (status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
    RETURN_IF_ERROR(client_.Check(status, "prepare snapshot"));
    return resp.mounts();
  }
  // Left by an interrupted create: reuse it.
  ctrd::snapshots::v1::MountsRequest mreq;
  mreq.set_snapshotter(options_.snapshotter);
  mreq.set_key(id);
  ctrd::snapshots::v1::MountsResponse mresp;
  auto mctx = client_.Context();
  RETURN_IF_ERROR(
      client_.Check(client_.snapshots().Mounts(mctx.get(), mreq, &mresp), "snapshot mounts"));
  return mresp.mounts();
}

absl::Status ContainerdRuntime::CreateContainer(const ContainerSpec& spec, const std::string& oci,
                                                const std::string& lease) {
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
  auto ctx = client_.Context(lease);
  return client_.Check(client_.containers().Create(ctx.get(), req, &resp), "create container");
}

absl::Status ContainerdRuntime::CreateTask(const ContainerSpec& spec, const Mounts& mounts) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(spec.log_path).parent_path(), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("create log directory for ", spec.log_path, ": ", ec.message()));
  }
  ctrd::tasks::v1::CreateTaskRequest req;
  req.set_container_id(spec.id);
  *req.mutable_rootfs() = mounts;
  const std::string uri = absl::StrCat("file://", spec.log_path);
  req.set_stdout(uri);
  req.set_stderr(uri);
  ctrd::tasks::v1::CreateTaskResponse resp;
  auto ctx = client_.Context();
  return client_.Check(client_.tasks().Create(ctx.get(), req, &resp), "create task");
}

absl::Status ContainerdRuntime::Start(const std::string& id) {
  ctrd::tasks::v1::StartRequest req;
  req.set_container_id(id);
  ctrd::tasks::v1::StartResponse resp;
  auto ctx = client_.Context();
  return client_.Check(client_.tasks().Start(ctx.get(), req, &resp), absl::StrCat("start ", id));
}

absl::Status ContainerdRuntime::Signal(const std::string& id, int signal, bool all) {
  ctrd::tasks::v1::KillRequest req;
  req.set_container_id(id);
  req.set_signal(static_cast<uint32_t>(signal));
  req.set_all(all);
  google::protobuf::Empty resp;
  auto ctx = client_.Context();
  grpc::Status status = client_.tasks().Kill(ctx.get(), req, &resp);
  // The process may have exited meanwhile; that is what we wanted.
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  return client_.Check(status, absl::StrCat("signal ", signal, " to ", id));
}

absl::Status ContainerdRuntime::Remove(const std::string& id) {
  {
    ctrd::tasks::v1::DeleteTaskRequest req;
    req.set_container_id(id);
    ctrd::tasks::v1::DeleteResponse resp;
    auto ctx = client_.Context();
    grpc::Status status = client_.tasks().Delete(ctx.get(), req, &resp);
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      RETURN_IF_ERROR(client_.Check(status, absl::StrCat("delete task ", id)));
    }
  }
  {
    ctrd::containers::v1::DeleteContainerRequest req;
    req.set_id(id);
    google::protobuf::Empty resp;
    auto ctx = client_.Context();
    grpc::Status status = client_.containers().Delete(ctx.get(), req, &resp);
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      RETURN_IF_ERROR(client_.Check(status, absl::StrCat("delete container ", id)));
    }
  }
  {
    ctrd::snapshots::v1::RemoveSnapshotRequest req;
    req.set_snapshotter(options_.snapshotter);
    req.set_key(id);
    google::protobuf::Empty resp;
    auto ctx = client_.Context();
    grpc::Status status = client_.snapshots().Remove(ctx.get(), req, &resp);
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      RETURN_IF_ERROR(client_.Check(status, absl::StrCat("remove snapshot ", id)));
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
    auto ctx = client_.Context();
    RETURN_IF_ERROR(
        client_.Check(client_.containers().List(ctx.get(), creq, &cresp), "list containers"));
  }
  ctrd::tasks::v1::ListTasksRequest treq;
  ctrd::tasks::v1::ListTasksResponse tresp;
  {
    auto ctx = client_.Context();
    RETURN_IF_ERROR(client_.Check(client_.tasks().List(ctx.get(), treq, &tresp), "list tasks"));
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
    info.state = StateOf(it == processes.end() ? nullptr : it->second, info);
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<std::string> ContainerdRuntime::ExecProcessSpec(
    const std::string& id, const std::vector<std::string>& args) {
  // The container's own process spec (environment, user, working directory)
  // with our arguments.
  ctrd::containers::v1::GetContainerRequest get;
  get.set_id(id);
  ctrd::containers::v1::GetContainerResponse container;
  auto ctx = client_.Context();
  RETURN_IF_ERROR(
      client_.Check(client_.containers().Get(ctx.get(), get, &container), "get container"));
  json spec = json::parse(container.container().spec().value(), nullptr, false);
  if (spec.is_discarded() || !spec.contains("process")) {
    return absl::InternalError(absl::StrCat("container ", id, " has no process spec"));
  }
  json process = spec["process"];
  process["args"] = args;
  process["terminal"] = false;
  return process.dump();
}

absl::StatusOr<ExecResult> ContainerdRuntime::Exec(const std::string& id,
                                                   const std::vector<std::string>& args,
                                                   absl::Duration timeout) {
  ASSIGN_OR_RETURN(const std::string process, ExecProcessSpec(id, args));
  const std::string exec_id = absl::StrCat("exec-", NewId().substr(0, 12));
  std::error_code ec;
  std::filesystem::create_directories(options_.exec_output_dir, ec);
  const std::string out_path =
      (std::filesystem::path(options_.exec_output_dir) / (exec_id + ".out")).string();
  auto exit_code = RunExec(id, exec_id, process, out_path, timeout);
  // Whatever happened, the process record and its output go.
  ctrd::tasks::v1::DeleteProcessRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  ctrd::tasks::v1::DeleteResponse resp;
  auto ctx = client_.Context();
  (void)client_.tasks().DeleteProcess(ctx.get(), req, &resp);
  ExecResult out;
  if (exit_code.ok()) out.output = ReadExecOutput(out_path);
  std::filesystem::remove(out_path, ec);
  if (!exit_code.ok()) return exit_code.status();
  out.exit_code = *exit_code;
  return out;
}

absl::StatusOr<int> ContainerdRuntime::RunExec(const std::string& id, const std::string& exec_id,
                                               const std::string& process,
                                               const std::string& out_path,
                                               absl::Duration timeout) {
  {
    ctrd::tasks::v1::ExecProcessRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    req.set_stdout(absl::StrCat("file://", out_path));
    req.set_stderr(absl::StrCat("file://", out_path));
    req.mutable_spec()->set_type_url(kProcessSpecType);
    req.mutable_spec()->set_value(process);
    google::protobuf::Empty resp;
    auto ctx = client_.Context();
    RETURN_IF_ERROR(client_.Check(client_.tasks().Exec(ctx.get(), req, &resp), "exec"));
  }
  {
    ctrd::tasks::v1::StartRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    ctrd::tasks::v1::StartResponse resp;
    auto ctx = client_.Context();
    RETURN_IF_ERROR(client_.Check(client_.tasks().Start(ctx.get(), req, &resp), "start exec"));
  }
  ctrd::tasks::v1::WaitRequest wait;
  wait.set_container_id(id);
  wait.set_exec_id(exec_id);
  ctrd::tasks::v1::WaitResponse waited;
  auto wctx = client_.Context("", timeout);
  grpc::Status st = client_.tasks().Wait(wctx.get(), wait, &waited);
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    ctrd::tasks::v1::KillRequest kill;
    kill.set_container_id(id);
    kill.set_exec_id(exec_id);
    kill.set_signal(9);
    google::protobuf::Empty empty;
    auto kctx = client_.Context();
    (void)client_.tasks().Kill(kctx.get(), kill, &empty);
    // Wait for the kill so the process can be deleted.
    auto w2 = client_.Context("", absl::Seconds(5));
    (void)client_.tasks().Wait(w2.get(), wait, &waited);
    return absl::DeadlineExceededError(
        absl::StrCat("exec in ", id, " took longer than ", absl::FormatDuration(timeout)));
  }
  RETURN_IF_ERROR(client_.Check(st, "wait for exec"));
  return static_cast<int>(waited.exit_status());
}

}  // namespace gantry::agent
