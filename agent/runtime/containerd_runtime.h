#pragma once

// ContainerRuntime over containerd's native gRPC API on its unix socket,
// without ctr or the Go client: images are read from the content store,
// container filesystems are overlayfs snapshots prepared on the image's
// unpacked layer chain, and the process runs under the runc v2 shim with
// stdout and stderr appended to a file (the shim's file:// stdio).
//
// Every call carries the agent's containerd namespace and a deadline
// (containerd_client.h); the image side is containerd_images.h.
// Thread-safe: the client and the image side are.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/container_runtime.h"
#include "agent/runtime/containerd_client.h"
#include "agent/runtime/containerd_images.h"
#include "agent/runtime/oci_spec.h"

namespace gantry::agent {

class ContainerdRuntime final : public ContainerRuntime {
 public:
  struct Options {
    std::string socket = "/run/containerd/containerd.sock";
    std::string ns = "gantry";
    // Only containers labelled with this node are listed and recovered.
    std::string node_name;
    std::string snapshotter = "overlayfs";
    std::string runtime = "io.containerd.runc.v2";
    OciOptions oci;
    absl::Duration call_timeout = absl::Seconds(30);
    // Where exec'd processes (health checks) write their output briefly.
    std::string exec_output_dir = "/tmp";
  };

  // Dials containerd on options.socket.
  explicit ContainerdRuntime(Options options);
  // Speaks over `channel` instead (the test seam: an in-process fake
  // containerd); options.socket only names the endpoint in error messages.
  ContainerdRuntime(Options options, std::shared_ptr<grpc::Channel> channel);

  absl::StatusOr<std::vector<ContainerInfo>> Recover() override;
  absl::StatusOr<std::vector<ContainerInfo>> List() override;
  absl::Status CheckImage(const std::string& image) override;
  absl::Status PullImage(const registry::Reference& ref,
                         registry::RegistryClient& registry) override;
  absl::StatusOr<std::vector<ImageInfo>> ListImages() override;
  absl::Status RemoveImage(const std::string& name) override;
  absl::Status Create(const ContainerSpec& spec) override;
  absl::Status Start(const std::string& id) override;
  absl::Status Signal(const std::string& id, int signal, bool all) override;
  absl::Status Remove(const std::string& id) override;
  absl::Status Ping() override;
  // The snapshotter's root, from containerd's introspection service.
  absl::StatusOr<std::string> StorageRoot() override;
  absl::StatusOr<ExecResult> Exec(const std::string& id, const std::vector<std::string>& args,
                                  absl::Duration timeout) override;
  absl::StatusOr<std::map<std::string, ContainerStats>> Stats(
      const std::vector<std::string>& ids) override;

 private:
  // Create's steps.
  absl::StatusOr<google::protobuf::RepeatedPtrField<containerd::types::Mount>> PrepareSnapshot(
      const std::string& id, const std::string& parent, const std::string& lease);
  // Who the process runs as: the spec's user, else the image's, looked up
  // in the snapshot's /etc/passwd and /etc/group.
  absl::StatusOr<ProcessUser> ProcessUserOf(
      const ContainerSpec& spec, const ImageConfig& image,
      const google::protobuf::RepeatedPtrField<containerd::types::Mount>& mounts);
  absl::Status CreateContainer(const ContainerSpec& spec, const std::string& oci,
                               const std::string& lease);
  absl::Status CreateTask(
      const ContainerSpec& spec,
      const google::protobuf::RepeatedPtrField<containerd::types::Mount>& mounts);
  // Exec's steps: the container's process spec with `args`, then start the
  // process and wait for it (killed after `timeout`).
  absl::StatusOr<std::string> ExecProcessSpec(const std::string& id,
                                              const std::vector<std::string>& args);
  absl::StatusOr<int> RunExec(const std::string& id, const std::string& exec_id,
                              const std::string& process, const std::string& out_path,
                              absl::Duration timeout);

  const Options options_;
  ContainerdClient client_;
  ContainerdImages images_;
};

}  // namespace gantry::agent
