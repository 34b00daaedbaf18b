#include "tests/fakes/fake_runtime.h"

#include <csignal>

#include "absl/strings/str_cat.h"

namespace gantry::agent {

absl::Status FakeRuntime::Available() const {
  if (down_) return absl::UnavailableError("fake runtime is down");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ContainerInfo>> FakeRuntime::Recover() { return List(); }

absl::StatusOr<std::vector<ContainerInfo>> FakeRuntime::List() {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  std::vector<ContainerInfo> out;
  for (const auto& [id, c] : containers_) out.push_back(c.info);
  return out;
}

absl::Status FakeRuntime::CheckImage(const std::string& image) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  if (!images_.contains(image)) {
    return absl::NotFoundError(absl::StrCat("image ", image, " is not present"));
  }
  return absl::OkStatus();
}

absl::Status FakeRuntime::Create(const ContainerSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  if (!fail_create_.empty()) return absl::InternalError(fail_create_);
  if (containers_.contains(spec.id)) {
    return absl::AlreadyExistsError(absl::StrCat("container ", spec.id, " exists"));
  }
  Container c;
  c.spec = spec;
  c.info.id = spec.id;
  c.info.labels = spec.labels;
  c.info.state = ContainerState::kCreated;
  containers_[spec.id] = std::move(c);
  creates_++;
  return absl::OkStatus();
}

absl::Status FakeRuntime::Start(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::NotFoundError(absl::StrCat("no container ", id));
  it->second.info.state = ContainerState::kRunning;
  return absl::OkStatus();
}

absl::Status FakeRuntime::Signal(const std::string& id, int signal, bool all) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::NotFoundError(absl::StrCat("no container ", id));
  signals_.push_back({id, signal});
  auto& info = it->second.info;
  if (info.state != ContainerState::kRunning) return absl::OkStatus();
  if (signal == SIGKILL || (signal == SIGTERM && !it->second.ignore_sigterm)) {
    info.state = ContainerState::kStopped;
    info.exit_code = 128 + signal;
  }
  return absl::OkStatus();
}

absl::Status FakeRuntime::Remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::OkStatus();
  if (it->second.info.state == ContainerState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("container ", id, " is running"));
  }
  containers_.erase(it);
  return absl::OkStatus();
}

absl::Status FakeRuntime::Ping() {
  std::lock_guard<std::mutex> lock(mu_);
  return Available();
}

absl::StatusOr<std::string> FakeRuntime::StorageRoot() {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  return storage_root_;
}

void FakeRuntime::SetStorageRoot(absl::StatusOr<std::string> root) {
  std::lock_guard<std::mutex> lock(mu_);
  storage_root_ = std::move(root);
}

absl::StatusOr<ExecResult> FakeRuntime::Exec(const std::string& id,
                                             const std::vector<std::string>& args, absl::Duration) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second.info.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("container ", id, " is not running"));
  }
  exec_calls_.push_back(args);
  if (auto r = exec_results_.find(id); r != exec_results_.end()) return r->second;
  return ExecResult{0, ""};
}

void FakeRuntime::SetExecResult(const std::string& id, absl::StatusOr<ExecResult> result) {
  std::lock_guard<std::mutex> lock(mu_);
  exec_results_.insert_or_assign(id, std::move(result));
}

std::vector<std::vector<std::string>> FakeRuntime::ExecCalls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exec_calls_;
}

absl::StatusOr<std::map<std::string, ContainerStats>> FakeRuntime::Stats(
    const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  std::map<std::string, ContainerStats> out;
  for (const auto& id : ids) {
    auto it = containers_.find(id);
    if (it != containers_.end() && it->second.info.state == ContainerState::kRunning) {
      out[id] = it->second.stats;
    }
  }
  return out;
}

void FakeRuntime::SetStats(const std::string& id, ContainerStats stats) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = containers_.find(id); it != containers_.end()) it->second.stats = stats;
}

void FakeRuntime::AddImage(const std::string& image) {
  std::lock_guard<std::mutex> lock(mu_);
  images_[image] = "sha256:" + std::string(64, '0');
}

void FakeRuntime::AddRegistryImage(const std::string& ref, const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  registry_[ref] = digest;
}

void FakeRuntime::FailPulls(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  pull_failure_ = std::move(status);
}

int FakeRuntime::pulls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pulls_;
}

std::vector<std::string> FakeRuntime::ImageNames() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, digest] : images_) out.push_back(name);
  return out;
}

void FakeRuntime::HoldPulls(bool hold) {
  {
    std::lock_guard<std::mutex> lock(hold_mu_);
    hold_pulls_ = hold;
  }
  hold_cv_.notify_all();
}

absl::Status FakeRuntime::PullImage(const registry::Reference& ref, registry::RegistryClient&) {
  {
    std::unique_lock<std::mutex> hold(hold_mu_);
    hold_cv_.wait(hold, [&] { return !hold_pulls_; });
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  pulls_++;
  if (!pull_failure_.ok()) return pull_failure_;
  const std::string name = ref.String();
  // By digest: any tag of that repository with this digest will do.
  if (!ref.digest.empty()) {
    for (const auto& [r, d] : registry_) {
      if (d == ref.digest && r.rfind(ref.Name(), 0) == 0) {
        images_[name] = d;
        return absl::OkStatus();
      }
    }
  } else if (auto it = registry_.find(name); it != registry_.end()) {
    images_[name] = it->second;
    return absl::OkStatus();
  }
  return absl::NotFoundError("manifest unknown");
}

absl::StatusOr<std::vector<ImageInfo>> FakeRuntime::ListImages() {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  std::vector<ImageInfo> out;
  for (const auto& [name, digest] : images_) out.push_back({name, digest, 1 << 20});
  return out;
}

absl::Status FakeRuntime::RemoveImage(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Available(); !st.ok()) return st;
  images_.erase(name);
  return absl::OkStatus();
}

void FakeRuntime::Exit(const std::string& id, int code) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  it->second.info.state = ContainerState::kStopped;
  it->second.info.exit_code = code;
}

void FakeRuntime::IgnoreSigterm(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = containers_.find(id); it != containers_.end()) it->second.ignore_sigterm = true;
}

void FakeRuntime::FailCreate(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_create_ = message;
}

void FakeRuntime::SetDown(bool down) {
  std::lock_guard<std::mutex> lock(mu_);
  down_ = down;
}

std::vector<std::string> FakeRuntime::RunningIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, c] : containers_) {
    if (c.info.state == ContainerState::kRunning) out.push_back(id);
  }
  return out;
}

std::vector<std::string> FakeRuntime::AllIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, c] : containers_) out.push_back(id);
  return out;
}

std::optional<ContainerSpec> FakeRuntime::SpecOf(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return std::nullopt;
  return it->second.spec;
}

std::vector<std::pair<std::string, int>> FakeRuntime::Signals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return signals_;
}

int FakeRuntime::creates() const {
  std::lock_guard<std::mutex> lock(mu_);
  return creates_;
}

}  // namespace gantry::agent
