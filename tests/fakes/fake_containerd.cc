#include "tests/fakes/fake_containerd.h"

#include "agent/runtime/oci_spec.h"
#include "grpcpp/server_builder.h"
#include "tests/fakes/fake_containerd_state.h"

namespace gantry::testing {

using containerd_fake::State;

namespace {

// As large as the runtime allows itself to receive.
constexpr int kMaxMessage = 64 << 20;

}  // namespace

FakeContainerd::FakeContainerd(Options options)
    : state_(std::make_unique<State>(options.ns, options.snapshotter)) {
  services_.push_back(containerd_fake::NewContainersService(state_.get()));
  services_.push_back(containerd_fake::NewContentService(state_.get()));
  services_.push_back(containerd_fake::NewDiffService(state_.get()));
  services_.push_back(containerd_fake::NewImagesService(state_.get()));
  services_.push_back(containerd_fake::NewLeasesService(state_.get()));
  services_.push_back(containerd_fake::NewSnapshotsService(state_.get()));
  services_.push_back(containerd_fake::NewTasksService(state_.get()));
  services_.push_back(containerd_fake::NewVersionService(state_.get()));
  services_.push_back(containerd_fake::NewIntrospectionService(state_.get()));
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(kMaxMessage);
  for (const auto& service : services_) builder.RegisterService(service.get());
  server_ = builder.BuildAndStart();
}

FakeContainerd::~FakeContainerd() {
  {
    MutexLock lock(&state_->mu);
    state_->shutting_down = true;  // ends blocked Waits
    state_->ended.SignalAll();
  }
  // Calls a client left hanging are cancelled after a while.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

std::shared_ptr<grpc::Channel> FakeContainerd::Channel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessage);
  return server_->InProcessChannel(args);
}

std::string FakeContainerd::PutContent(const std::string& data,
                                       const std::map<std::string, std::string>& labels) {
  const std::string digest = agent::Sha256Digest(data);
  MutexLock lock(&state_->mu);
  state_->content[digest] = {data, labels, absl::Now(), absl::Now()};
  return digest;
}

void FakeContainerd::PutImage(const std::string& name, const std::string& media_type,
                              const std::string& digest, int64_t size) {
  containerd::services::images::v1::Image image;
  image.set_name(name);
  image.mutable_target()->set_media_type(media_type);
  image.mutable_target()->set_digest(digest);
  image.mutable_target()->set_size(size);
  MutexLock lock(&state_->mu);
  state_->images[name] = image;
}

void FakeContainerd::PutCommittedSnapshot(const std::string& name, const std::string& parent) {
  MutexLock lock(&state_->mu);
  containerd_fake::Snapshot s;
  s.id = state_->next_snapshot_id++;
  s.parent = parent;
  s.committed = true;
  s.created = s.updated = absl::Now();
  state_->snapshots[name] = std::move(s);
}

void FakeContainerd::SetExecScript(const std::string& container_id, ExecScriptFn script) {
  MutexLock lock(&state_->mu);
  state_->exec_scripts[container_id] = std::move(script);
}

void FakeContainerd::SetSignalEffect(const std::string& container_id, int signal,
                                     std::optional<int> exit_code) {
  MutexLock lock(&state_->mu);
  state_->signal_effects[{container_id, signal}] = exit_code;
}

void FakeContainerd::ExitTask(const std::string& container_id, int exit_code) {
  MutexLock lock(&state_->mu);
  auto it = state_->tasks.find(container_id);
  if (it != state_->tasks.end() && it->second.init.status == containerd::v1::types::RUNNING) {
    state_->StopTask(it->second, exit_code);
  }
}

void FakeContainerd::SetMetrics(const std::string& container_id,
                                const google::protobuf::Message& metrics) {
  google::protobuf::Any any;
  any.set_type_url(metrics.GetDescriptor()->full_name());
  any.set_value(metrics.SerializeAsString());
  MutexLock lock(&state_->mu);
  state_->metrics[container_id] = std::move(any);
}

void FakeContainerd::FailNext(const std::string& method, grpc::Status status, int times) {
  MutexLock lock(&state_->mu);
  for (int i = 0; i < times; ++i) state_->faults[method].push_back(status);
}

void FakeContainerd::CorruptContent(const std::string& digest) {
  MutexLock lock(&state_->mu);
  auto it = state_->content.find(digest);
  if (it != state_->content.end()) it->second.data += "\ncorrupted";
}

void FakeContainerd::SetDiffResult(const std::string& layer_digest, const std::string& diff_id) {
  MutexLock lock(&state_->mu);
  state_->diff_results[layer_digest] = diff_id;
}

std::vector<FakeContainerd::Call> FakeContainerd::Calls() const {
  MutexLock lock(&state_->mu);
  return state_->calls;
}

std::optional<containerd::services::containers::v1::Container> FakeContainerd::GetContainer(
    const std::string& id) const {
  MutexLock lock(&state_->mu);
  auto it = state_->containers.find(id);
  if (it == state_->containers.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> FakeContainerd::ContainerIds() const {
  MutexLock lock(&state_->mu);
  std::vector<std::string> out;
  for (const auto& [id, c] : state_->containers) out.push_back(id);
  return out;
}

std::optional<FakeContainerd::TaskView> FakeContainerd::GetTask(
    const std::string& container_id) const {
  MutexLock lock(&state_->mu);
  auto it = state_->tasks.find(container_id);
  if (it == state_->tasks.end()) return std::nullopt;
  const containerd_fake::Process& p = it->second.init;
  TaskView view;
  view.init = {p.pid,        p.status,  p.exit_status,  p.stdout_uri,
               p.stderr_uri, p.signals, p.signalled_all};
  view.rootfs = it->second.rootfs;
  view.rootfs_snapshot = it->second.rootfs_snapshot;
  return view;
}

std::vector<FakeContainerd::ExecView> FakeContainerd::Execs(const std::string& container_id) const {
  MutexLock lock(&state_->mu);
  std::vector<ExecView> out;
  for (const auto& record : state_->exec_history) {
    if (record.container_id == container_id) out.push_back(record.view);
  }
  return out;
}

std::optional<FakeContainerd::BlobView> FakeContainerd::GetContent(
    const std::string& digest) const {
  MutexLock lock(&state_->mu);
  auto it = state_->content.find(digest);
  if (it == state_->content.end()) return std::nullopt;
  return BlobView{it->second.data, it->second.labels};
}

std::vector<std::string> FakeContainerd::ContentDigests() const {
  MutexLock lock(&state_->mu);
  std::vector<std::string> out;
  for (const auto& [digest, blob] : state_->content) out.push_back(digest);
  return out;
}

std::optional<FakeContainerd::SnapshotView> FakeContainerd::GetSnapshot(
    const std::string& key) const {
  MutexLock lock(&state_->mu);
  auto it = state_->snapshots.find(key);
  if (it == state_->snapshots.end()) return std::nullopt;
  return SnapshotView{it->second.parent, it->second.committed, it->second.labels,
                      it->second.applied};
}

std::vector<std::string> FakeContainerd::SnapshotKeys() const {
  MutexLock lock(&state_->mu);
  std::vector<std::string> out;
  for (const auto& [key, s] : state_->snapshots) out.push_back(key);
  return out;
}

std::optional<containerd::services::images::v1::Image> FakeContainerd::GetImage(
    const std::string& name) const {
  MutexLock lock(&state_->mu);
  auto it = state_->images.find(name);
  if (it == state_->images.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeContainerd::LeaseView> FakeContainerd::Leases() const {
  MutexLock lock(&state_->mu);
  std::vector<LeaseView> out;
  for (const auto& id : state_->lease_order) {
    const containerd_fake::Lease& l = state_->leases.at(id);
    out.push_back({id, l.labels, l.deleted, l.content, l.snapshots});
  }
  return out;
}

void FakeContainerd::CollectGarbage() {
  MutexLock lock(&state_->mu);
  state_->CollectGarbage();
}

}  // namespace gantry::testing
