#pragma once

// The agent's seam to whatever runs containers: containerd in production, an
// in-memory fake in tests. Calls are synchronous and individually quick (no
// call waits for a container to exit); the agent's reconciler drives stop
// timeouts itself so that it can be tested on a fake clock.
//
// Every container the agent creates carries labels (kLabelTaskId, ...) so a
// restarted agent can find and re-adopt them: Recover() is the first call an
// agent makes.
//
// Implementations must be thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/registry/reference.h"
#include "common/registry/registry_client.h"

namespace gantry::agent {

inline constexpr char kLabelTaskId[] = "io.gantry.task-id";
inline constexpr char kLabelContainer[] = "io.gantry.container";
inline constexpr char kLabelService[] = "io.gantry.service";
inline constexpr char kLabelTaskDefinition[] = "io.gantry.task-definition";
// The node whose agent created the container. Several agents may share one
// containerd (test clusters on one machine); each manages only its own.
inline constexpr char kLabelNode[] = "io.gantry.node";

// A host file or directory the container sees at `destination`.
struct BindMount {
  std::string source;
  std::string destination;
  bool read_only = true;
};

struct ContainerSpec {
  // Unique runtime id: "<task id>-<container name>".
  std::string id;
  std::string image;
  // Replaces the image's entrypoint and command when not empty.
  std::vector<std::string> command;
  // KEY=VALUE, added to the image's environment (later wins).
  std::vector<std::string> env;
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  // Network namespace to join; empty shares the host's.
  std::string netns_path;
  // stdout and stderr are appended here.
  std::string log_path;
  std::string hostname;
  std::map<std::string, std::string> labels;
  // Bind mounts (read-only, nosuid, nodev, noexec), e.g. secret files.
  std::vector<BindMount> mounts;

  // The sandbox (see common/spec/sandbox.h). NAME, UID, NAME:GROUP or
  // UID:GID, resolved in the image; empty: the image's user.
  std::string user;
  // Processes and threads the container may have; 0: unlimited.
  int64_t pids_limit = 0;
  bool readonly_root = false;
  // Resource limits, as "RLIMIT_NOFILE".
  struct Rlimit {
    std::string type;
    uint64_t soft = 0;
    uint64_t hard = 0;
  };
  std::vector<Rlimit> rlimits;
  // The process's capabilities ("CAP_CHOWN", ...); its seccomp filter
  // allows the calls that go with them.
  std::vector<std::string> capabilities;
};

enum class ContainerState {
  kNoTask,   // the container exists but has no process (creation was interrupted)
  kCreated,  // its process is created, not started
  kRunning,
  kStopped,  // exited; exit_code is valid
};

inline bool Running(ContainerState s) { return s == ContainerState::kRunning; }

struct ContainerInfo {
  std::string id;
  std::map<std::string, std::string> labels;
  ContainerState state = ContainerState::kNoTask;
  int exit_code = 0;
  absl::Time exited_at = absl::UnixEpoch();
};

struct ImageInfo {
  std::string name;    // the reference it was pulled as
  std::string digest;  // of its manifest (or index)
  int64_t size = 0;    // compressed bytes of config and layers
};

// Resource use of a running container, from its cgroup.
struct ContainerStats {
  double cpu_seconds = 0;    // CPU time used since it started
  int64_t memory_bytes = 0;  // memory in use
  int64_t memory_limit = 0;  // 0 when unlimited
};

struct ExecResult {
  int exit_code = 0;
  std::string output;  // the end of what it printed (stdout and stderr)
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;

  // Returns every container the agent created that still exists, so a
  // restarted agent adopts them instead of starting duplicates.
  virtual absl::StatusOr<std::vector<ContainerInfo>> Recover() = 0;
  // Current state of all the agent's containers.
  virtual absl::StatusOr<std::vector<ContainerInfo>> List() = 0;

  // NotFound when the image is not present (or not unpacked).
  virtual absl::Status CheckImage(const std::string& image) = 0;
  // Pulls `ref` from its registry, names it ref.String(), and unpacks it for
  // running. Blobs and layers already present are not fetched again. Errors
  // keep the registry client's classification (see registry_client.h).
  virtual absl::Status PullImage(const registry::Reference& ref,
                                 registry::RegistryClient& registry) = 0;
  virtual absl::StatusOr<std::vector<ImageInfo>> ListImages() = 0;
  // Removes the image; its content and layers go once nothing else uses
  // them. Not an error when it is already gone.
  virtual absl::Status RemoveImage(const std::string& name) = 0;
  // Creates the container and its (not yet started) process.
  virtual absl::Status Create(const ContainerSpec& spec) = 0;
  virtual absl::Status Start(const std::string& id) = 0;
  // Signals the container's main process; with `all`, every process in it.
  virtual absl::Status Signal(const std::string& id, int signal, bool all) = 0;
  // Deletes the process, the container and its filesystem. Idempotent: a
  // container that is already gone is not an error. The container must not
  // be running.
  virtual absl::Status Remove(const std::string& id) = 0;
  // Whether the runtime answers (for node status checks).
  virtual absl::Status Ping() = 0;
  // The directory where the runtime keeps containers' filesystems (for the
  // storage check), as the runtime itself reports it.
  virtual absl::StatusOr<std::string> StorageRoot() = 0;
  // Runs `args` inside the running container with its environment, and
  // waits at most `timeout`: DeadlineExceeded (the process is killed) when
  // it takes longer.
  virtual absl::StatusOr<ExecResult> Exec(const std::string& id,
                                          const std::vector<std::string>& args,
                                          absl::Duration timeout) = 0;
  // Resource use of the given running containers, by id, in one call
  // (metrics scrapes ask for all of them at once). Containers that are not
  // running are left out.
  virtual absl::StatusOr<std::map<std::string, ContainerStats>> Stats(
      const std::vector<std::string>& ids) = 0;
};

}  // namespace gantry::agent
