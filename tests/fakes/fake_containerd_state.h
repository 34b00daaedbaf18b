#pragma once

// The fake containerd's state, shared by its services (one .cc per service
// group) and FakeContainerd's test controls. Internal to tests/fakes.
//
// Everything is guarded by State::mu. Handlers call Enter() first (without
// the lock), then take the lock for the rest of the call; helpers marked
// ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) expect it held.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "google/protobuf/any.pb.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "tests/fakes/fake_containerd.h"

namespace gantry::testing::containerd_fake {

namespace api = containerd::services;
using ProcessStatus = containerd::v1::types::Status;
using Labels = std::map<std::string, std::string>;

struct Process {
  uint32_t pid = 0;
  ProcessStatus status = containerd::v1::types::CREATED;
  uint32_t exit_status = 0;
  absl::Time exited_at = absl::UnixEpoch();
  std::string stdin_uri, stdout_uri, stderr_uri;
  std::vector<int> signals;
  bool signalled_all = false;
  // Exec'd processes: index into State::exec_history.
  std::optional<size_t> history;
};

struct Task {
  Process init;
  std::map<std::string, Process> execs;  // by exec id
  std::vector<containerd::types::Mount> rootfs;
  std::string rootfs_snapshot;
};

struct ExecRecord {
  std::string container_id;
  FakeContainerd::ExecView view;
};

struct Blob {
  std::string data;
  Labels labels;
  absl::Time created, updated;
};

// An ingestion started by Content.Write and not yet committed or aborted.
struct Ingest {
  std::string data;
  absl::Time started, updated;
  bool locked = false;  // a Write stream holds it
};

struct Snapshot {
  uint64_t id = 0;  // names its directories in mounts
  std::string parent;
  bool committed = false;
  Labels labels;
  absl::Time created, updated;
  std::vector<std::string> applied;
};

struct Lease {
  Labels labels;
  absl::Time created;
  bool deleted = false;
  std::set<std::string> content, snapshots, ingests;
};

class State {
 public:
  State(std::string ns, std::string snapshotter)
      : ns(std::move(ns)), snapshotter(std::move(snapshotter)) {}

  // Admits a call: records it, plays a queued fault, and checks its
  // namespace (unless `namespaced` is false). `lease` receives the lease the
  // call carries.
  grpc::Status Enter(const grpc::ServerContext* ctx, absl::string_view method,
                     std::string* lease = nullptr, bool namespaced = true) ABSL_LOCKS_EXCLUDED(mu);

  // NOT_FOUND unless `lease` is empty or a live lease (what containerd says
  // when a call names a lease that does not exist).
  grpc::Status CheckLease(const std::string& lease) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  grpc::Status CheckSnapshotter(const std::string& name) const;
  // Mounts of snapshot `key` (which must exist): a bind mount for a base
  // snapshot, overlay with its ancestors as lower directories otherwise.
  std::vector<containerd::types::Mount> MountsOf(const std::string& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The key of the active snapshot `mounts` were made for, or "".
  std::string ActiveSnapshotOf(
      const google::protobuf::RepeatedPtrField<containerd::types::Mount>& mounts) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  bool HasChildren(const std::string& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void CollectGarbage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Ends `p` (of this state) with `exit_code` now, and signals `ended`.
  void Stop(Process& p, int exit_code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Ends the task's main process, and with it (SIGKILL) whatever was exec'd.
  void StopTask(Task& task, int exit_code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  const std::string ns;
  const std::string snapshotter;

  mutable Mutex mu;
  // Signalled (with mu held) when a process stops or is deleted, and at
  // shutdown: what a blocked Tasks.Wait waits for.
  CondVar ended;
  bool shutting_down ABSL_GUARDED_BY(mu) = false;
  std::vector<FakeContainerd::Call> calls ABSL_GUARDED_BY(mu);
  std::map<std::string, std::deque<grpc::Status>> faults ABSL_GUARDED_BY(mu);

  std::map<std::string, api::containers::v1::Container> containers ABSL_GUARDED_BY(mu);
  std::map<std::string, Task> tasks ABSL_GUARDED_BY(mu);
  std::vector<ExecRecord> exec_history ABSL_GUARDED_BY(mu);
  uint32_t next_pid ABSL_GUARDED_BY(mu) = 1000;
  std::map<std::string, Blob> content ABSL_GUARDED_BY(mu);
  std::map<std::string, Ingest> ingests ABSL_GUARDED_BY(mu);
  std::map<std::string, Snapshot> snapshots ABSL_GUARDED_BY(mu);
  uint64_t next_snapshot_id ABSL_GUARDED_BY(mu) = 1;
  std::map<std::string, api::images::v1::Image> images ABSL_GUARDED_BY(mu);
  std::map<std::string, Lease> leases ABSL_GUARDED_BY(mu);
  std::vector<std::string> lease_order ABSL_GUARDED_BY(mu);

  // Test scripts.
  std::map<std::string, FakeContainerd::ExecScriptFn> exec_scripts ABSL_GUARDED_BY(mu);
  std::map<std::pair<std::string, int>, std::optional<int>> signal_effects ABSL_GUARDED_BY(mu);
  std::map<std::string, google::protobuf::Any> metrics ABSL_GUARDED_BY(mu);
  std::map<std::string, std::string> diff_results ABSL_GUARDED_BY(mu);
};

// Errors shaped like containerd's ("<what>: not found").
grpc::Status NotFound(absl::string_view what);
grpc::Status AlreadyExists(absl::string_view what);
grpc::Status FailedPrecondition(absl::string_view what);
grpc::Status InvalidArgument(absl::string_view what);

// The services, each over `state` (which must outlive them).
std::unique_ptr<grpc::Service> NewContainersService(State* state);
std::unique_ptr<grpc::Service> NewContentService(State* state);
std::unique_ptr<grpc::Service> NewDiffService(State* state);
std::unique_ptr<grpc::Service> NewImagesService(State* state);
std::unique_ptr<grpc::Service> NewLeasesService(State* state);
std::unique_ptr<grpc::Service> NewSnapshotsService(State* state);
std::unique_ptr<grpc::Service> NewTasksService(State* state);
std::unique_ptr<grpc::Service> NewVersionService(State* state);
std::unique_ptr<grpc::Service> NewIntrospectionService(State* state);

}  // namespace gantry::testing::containerd_fake
