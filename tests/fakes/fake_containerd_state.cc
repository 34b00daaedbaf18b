#include "tests/fakes/fake_containerd_state.h"

#include <csignal>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace gantry::testing::containerd_fake {

namespace {

constexpr char kSnapshotRoot[] = "/var/lib/fake-containerd/snapshots/";

std::string Header(const grpc::ServerContext* ctx, absl::string_view key) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

std::string UpperDir(uint64_t id) { return absl::StrCat(kSnapshotRoot, id, "/fs"); }

// The snapshot id in a path made by UpperDir, or 0.
uint64_t IdOfDir(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, kSnapshotRoot) || !absl::ConsumeSuffix(&path, "/fs")) return 0;
  uint64_t id = 0;
  for (char c : path) {
    if (c < '0' || c > '9') return 0;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

// Whether a lease still protects what it holds: not deleted and not past
// the expiry containerd's collector honours.
bool Protects(const Lease& lease, absl::Time now) {
  if (lease.deleted) return false;
  auto it = lease.labels.find("containerd.io/gc.expire");
  absl::Time expiry;
  std::string error;
  if (it == lease.labels.end() || !absl::ParseTime(absl::RFC3339_full, it->second, &expiry, &error))
    return true;
  return expiry > now;
}

}  // namespace

grpc::Status NotFound(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat(what, ": not found"));
}
grpc::Status AlreadyExists(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, absl::StrCat(what, ": already exists"));
}
grpc::Status FailedPrecondition(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat(what, ": failed precondition"));
}
grpc::Status InvalidArgument(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat(what, ": invalid argument"));
}

grpc::Status State::Enter(const grpc::ServerContext* ctx, absl::string_view method,
                          std::string* lease, bool namespaced) {
  FakeContainerd::Call call{std::string(method), Header(ctx, "containerd-namespace"),
                            Header(ctx, "containerd-lease")};
  if (lease != nullptr) *lease = call.lease;
  MutexLock lock(&mu);
  calls.push_back(call);
  if (auto it = faults.find(call.method); it != faults.end() && !it->second.empty()) {
    grpc::Status fault = it->second.front();
    it->second.pop_front();
    return fault;
  }
  if (!namespaced) return grpc::Status::OK;
  if (call.ns.empty()) return FailedPrecondition("namespace is required");
  if (call.ns != ns) {
    return FailedPrecondition(absl::StrCat("this fake containerd serves namespace \"", ns,
                                           "\" only, not \"", call.ns, "\""));
  }
  return grpc::Status::OK;
}

grpc::Status State::CheckLease(const std::string& lease) const {
  if (lease.empty()) return grpc::Status::OK;
  auto it = leases.find(lease);
  if (it == leases.end() || it->second.deleted) return NotFound("lease does not exist");
  return grpc::Status::OK;
}

grpc::Status State::CheckSnapshotter(const std::string& name) const {
  if (name == snapshotter) return grpc::Status::OK;
  return InvalidArgument(absl::StrCat("snapshotter not loaded: ", name));
}

std::vector<containerd::types::Mount> State::MountsOf(const std::string& key) const {
  const Snapshot& s = snapshots.at(key);
  containerd::types::Mount m;
  if (s.parent.empty()) {
    m.set_type("bind");
    m.set_source(UpperDir(s.id));
    m.add_options(s.committed ? "ro" : "rw");
    m.add_options("rbind");
    return {m};
  }
  std::vector<std::string> lower;
  for (std::string p = s.parent; !p.empty(); p = snapshots.at(p).parent) {
    lower.push_back(UpperDir(snapshots.at(p).id));
  }
  m.set_type("overlay");
  m.set_source("overlay");
  m.add_options(absl::StrCat("workdir=", kSnapshotRoot, s.id, "/work"));
  m.add_options(absl::StrCat("upperdir=", UpperDir(s.id)));
  m.add_options(absl::StrCat("lowerdir=", absl::StrJoin(lower, ":")));
  return {m};
}

std::string State::ActiveSnapshotOf(
    const google::protobuf::RepeatedPtrField<containerd::types::Mount>& mounts) const {
  if (mounts.size() != 1) return "";
  uint64_t id = 0;
  const auto& m = mounts[0];
  if (m.type() == "bind") id = IdOfDir(m.source());
  for (const auto& option : m.options()) {
    absl::string_view o = option;
    if (m.type() == "overlay" && absl::ConsumePrefix(&o, "upperdir=")) id = IdOfDir(o);
  }
  for (const auto& [key, s] : snapshots) {
    if (id != 0 && s.id == id && !s.committed) return key;
  }
  return "";
}

bool State::HasChildren(const std::string& key) const {
  for (const auto& [k, s] : snapshots) {
    if (s.parent == key) return true;
  }
  return false;
}

void State::Stop(Process& p, int exit_code) {
  p.status = containerd::v1::types::STOPPED;
  p.exit_status = static_cast<uint32_t>(exit_code);
  p.exited_at = absl::Now();
  if (p.history.has_value()) exec_history[*p.history].view.exit_code = exit_code;
  ended.SignalAll();
}

void State::StopTask(Task& task, int exit_code) {
  Stop(task.init, exit_code);
  for (auto& [exec_id, p] : task.execs) {
    if (p.status != containerd::v1::types::STOPPED) Stop(p, 128 + SIGKILL);
  }
}

void State::CollectGarbage() {
  std::vector<std::string> content_queue, snapshot_queue;
  for (const auto& [name, image] : images) content_queue.push_back(image.target().digest());
  for (const auto& [id, c] : containers) {
    if (c.snapshotter() == snapshotter) snapshot_queue.push_back(c.snapshot_key());
  }
  const absl::Time now = absl::Now();
  for (const auto& [id, lease] : leases) {
    if (!Protects(lease, now)) continue;
    content_queue.insert(content_queue.end(), lease.content.begin(), lease.content.end());
    snapshot_queue.insert(snapshot_queue.end(), lease.snapshots.begin(), lease.snapshots.end());
  }
  for (const auto& [digest, blob] : content) {
    if (blob.labels.count("containerd.io/gc.root") > 0) content_queue.push_back(digest);
  }
  const std::string snapshot_ref = absl::StrCat("containerd.io/gc.ref.snapshot.", snapshotter);
  std::set<std::string> live_content, live_snapshots;
  while (!content_queue.empty() || !snapshot_queue.empty()) {
    if (!content_queue.empty()) {
      const std::string digest = content_queue.back();
      content_queue.pop_back();
      auto it = content.find(digest);
      if (it == content.end() || !live_content.insert(digest).second) continue;
      for (const auto& [k, v] : it->second.labels) {
        if (absl::StartsWith(k, "containerd.io/gc.ref.content")) content_queue.push_back(v);
        if (k == snapshot_ref) snapshot_queue.push_back(v);
      }
      continue;
    }
    const std::string key = snapshot_queue.back();
    snapshot_queue.pop_back();
    auto it = snapshots.find(key);
    if (it == snapshots.end() || !live_snapshots.insert(key).second) continue;
    if (!it->second.parent.empty()) snapshot_queue.push_back(it->second.parent);
  }
  std::erase_if(content, [&](const auto& kv) { return live_content.count(kv.first) == 0; });
  std::erase_if(snapshots, [&](const auto& kv) { return live_snapshots.count(kv.first) == 0; });
  std::set<std::string> live_ingests;
  for (const auto& [id, lease] : leases) {
    if (Protects(lease, now)) live_ingests.insert(lease.ingests.begin(), lease.ingests.end());
  }
  std::erase_if(ingests, [&](const auto& kv) {
    return !kv.second.locked && live_ingests.count(kv.first) == 0;
  });
}

}  // namespace gantry::testing::containerd_fake
