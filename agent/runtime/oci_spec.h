#pragma once

// Builds the OCI runtime spec (config.json) for one container from the
// agent's ContainerSpec and the image's configuration. Pure functions.
//
// Least privilege by default: the spec's capabilities (Docker's default set
// less CAP_NET_RAW unless the task definition changed it), Docker's default
// seccomp filter, a pids limit, no-new-privileges, masked and read-only
// kernel paths, a read-only sysfs and cgroup view, and only the standard
// device nodes.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/container_runtime.h"

namespace gantry::agent {

// The parts of an OCI image configuration that shape the process.
struct ImageConfig {
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string user;
  // Layer digests of the uncompressed layers, bottom first.
  std::vector<std::string> diff_ids;
};

absl::StatusOr<ImageConfig> ParseImageConfig(const std::string& json);

struct OciOptions {
  // Containers' cgroups go below this path, e.g. "/gantry".
  std::string cgroup_parent = "/gantry";
  // Bind-mounted read-only when it exists, so containers resolve names.
  std::string resolv_conf = "/etc/resolv.conf";
};

// Who the container's process runs as, resolved from ContainerSpec::user
// (or the image's user) against the image's /etc/passwd and /etc/group.
struct ProcessUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

absl::StatusOr<std::string> BuildOciSpec(const ContainerSpec& spec, const ImageConfig& image,
                                         const ProcessUser& user, const OciOptions& options);

// containerd's snapshot key for a layer stack: the OCI chain ID of the
// diff IDs ("sha256:..."), computed as in the image spec.
std::string ChainId(const std::vector<std::string>& diff_ids);

// "sha256:<hex>" of `data`.
std::string Sha256Digest(const std::string& data);

}  // namespace gantry::agent
