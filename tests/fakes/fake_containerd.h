#pragma once

// An in-process fake containerd for ContainerdRuntime's unit tests: the
// Containers, Tasks, Content, Snapshots, Images, Leases, Diff and Version
// services of containerd's native gRPC API as synchronous gRPC services on a
// grpc::Server in the test's own process, reached through Channel() (no
// socket, no port, no containerd).
//
// It keeps just enough state to be honest about what the runtime relies on:
// containers with labels and specs; tasks and exec'd processes whose status,
// pid and exit code change on Create, Start, Kill and exit; a content store
// whose streamed Write checks offsets and, at commit, size and digest;
// snapshots with parents (Prepare, Commit, Mounts, Stat, Remove) whose mounts
// name them, so Diff.Apply and Tasks.Create can tell which snapshot they were
// given; image records; leases that own what was made under them; and a
// garbage collector that follows containerd's gc.ref labels from images,
// containers and live leases. Errors carry containerd's codes where callers
// branch on them (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
// OUT_OF_RANGE) and messages shaped like containerd's.
//
// It serves one namespace. Every call (Version excepted, as in containerd)
// must carry it in the "containerd-namespace" metadata: a call without one
// fails FAILED_PRECONDITION "namespace is required", as containerd's do; a
// call in another namespace fails FAILED_PRECONDITION too. Calls() records
// every call with its namespace and lease so tests can check both.
//
// Nothing runs. A task "runs" from Start until the test ends it (ExitTask) or
// a signal does: by default any signal ends a process with 128 + signal (143
// for SIGTERM, 137 for SIGKILL), and SetSignalEffect changes that for one
// container (SIGKILL cannot be ignored). An exec'd process writes its scripted
// output to its file:// stdout and exits with its scripted code at Start, or
// hangs until killed. Tasks.Wait blocks until the process stops or the call's
// deadline passes.
//
// Thread-safe: gRPC's handler threads and the test share one mutex-guarded
// state. Scripts (SetExecScript) run on a handler thread without the lock and
// must not call the fake. The fake must outlive every channel's last call;
// destroying it ends blocked Waits with UNAVAILABLE.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb.h"
#include "github.com/containerd/containerd/api/types/mount.pb.h"
#include "github.com/containerd/containerd/api/types/task/task.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "grpcpp/server.h"
#include "grpcpp/support/status.h"

namespace gantry::testing {

namespace containerd_fake {
class State;
}

class FakeContainerd {
 public:
  struct Options {
    std::string ns = "gantry";
    // The one snapshotter it has; others are "not loaded".
    std::string snapshotter = "overlayfs";
  };

  FakeContainerd() : FakeContainerd(Options()) {}
  explicit FakeContainerd(Options options);
  ~FakeContainerd();
  FakeContainerd(const FakeContainerd&) = delete;
  FakeContainerd& operator=(const FakeContainerd&) = delete;

  // A new in-process channel to the fake.
  std::shared_ptr<grpc::Channel> Channel();

  // --- Seeding what a node already holds (as if imported).
  // Stores `data` and returns its digest ("sha256:...").
  std::string PutContent(const std::string& data,
                         const std::map<std::string, std::string>& labels = {});
  void PutImage(const std::string& name, const std::string& media_type, const std::string& digest,
                int64_t size);
  // A committed snapshot `name` on `parent` ("" for a base layer), as
  // unpacking a layer leaves it.
  void PutCommittedSnapshot(const std::string& name, const std::string& parent);

  // --- Scripting processes.
  struct ExecScript {
    std::string output;  // written to the process's stdout file at Start
    int exit_code = 0;
    bool hang = false;  // runs until killed instead
  };
  using ExecScriptFn = std::function<ExecScript(const std::vector<std::string>& args)>;
  // What processes exec'd in `container_id` do (default: exit 0 silently).
  void SetExecScript(const std::string& container_id, ExecScriptFn script);
  // What `signal` does to the main process of `container_id`: end it with
  // `exit_code`, or nothing (nullopt). SIGKILL always ends it with 137.
  void SetSignalEffect(const std::string& container_id, int signal, std::optional<int> exit_code);
  // The main process exits by itself (its exec'd processes die with it).
  void ExitTask(const std::string& container_id, int exit_code);
  // What Tasks.Metrics reports for `container_id` while it runs: a cgroups
  // v1 or v2 Metrics message, sent in an Any whose type URL is the bare
  // message name, as containerd sends it.
  void SetMetrics(const std::string& container_id, const google::protobuf::Message& metrics);

  // --- Faults.
  // The next `times` calls of `method` ("Tasks.Start", "Content.Write", ...)
  // fail with `status` before doing anything.
  void FailNext(const std::string& method, grpc::Status status, int times = 1);
  // Changes the stored bytes of `digest` so they no longer match it.
  void CorruptContent(const std::string& digest);
  // Diff.Apply of the layer `layer_digest` reports `diff_id` (which lets
  // compressed layers unpack, or a wrong diff ID be reported).
  void SetDiffResult(const std::string& layer_digest, const std::string& diff_id);

  // --- Observations (copies, taken under the lock).
  struct Call {
    std::string method;  // "Service.Method"
    std::string ns;      // "" when the call carried none
    std::string lease;   // "" when the call carried none
  };
  std::vector<Call> Calls() const;
  std::optional<containerd::services::containers::v1::Container> GetContainer(
      const std::string& id) const;
  std::vector<std::string> ContainerIds() const;

  struct ProcessView {
    uint32_t pid = 0;
    containerd::v1::types::Status status = containerd::v1::types::UNKNOWN;
    uint32_t exit_status = 0;
    std::string stdout_uri;
    std::string stderr_uri;
    std::vector<int> signals;  // received, in order
    bool signalled_all = false;
  };
  struct TaskView {
    ProcessView init;
    std::vector<containerd::types::Mount> rootfs;
    std::string rootfs_snapshot;  // the snapshot key the rootfs mounts name
  };
  std::optional<TaskView> GetTask(const std::string& container_id) const;
  struct ExecView {
    std::string exec_id;
    std::string spec_json;  // the OCI process spec it was given
    std::vector<std::string> args;
    std::string stdout_uri;
    std::optional<int> exit_code;  // once it stopped
    bool deleted = false;
  };
  // Every process exec'd in `container_id`, in order, deleted ones too.
  std::vector<ExecView> Execs(const std::string& container_id) const;

  struct BlobView {
    std::string data;
    std::map<std::string, std::string> labels;
  };
  std::optional<BlobView> GetContent(const std::string& digest) const;
  std::vector<std::string> ContentDigests() const;

  struct SnapshotView {
    std::string parent;
    bool committed = false;
    std::map<std::string, std::string> labels;
    std::vector<std::string> applied;  // layer digests Diff.Apply unpacked into it
  };
  std::optional<SnapshotView> GetSnapshot(const std::string& key) const;
  std::vector<std::string> SnapshotKeys() const;

  std::optional<containerd::services::images::v1::Image> GetImage(const std::string& name) const;

  struct LeaseView {
    std::string id;
    std::map<std::string, std::string> labels;
    bool deleted = false;
    std::set<std::string> content;    // digests committed under it
    std::set<std::string> snapshots;  // keys and names made under it
  };
  // Every lease ever created, in order, deleted ones too.
  std::vector<LeaseView> Leases() const;

  // Removes content and snapshots nothing references, as containerd's
  // garbage collector does (roots: images, containers' snapshots, live
  // unexpired leases; edges: gc.ref labels and snapshot parents).
  void CollectGarbage();

 private:
  std::unique_ptr<containerd_fake::State> state_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace gantry::testing
