#pragma once

// ContainerRuntime over containerd's native gRPC API on its unix socket,
// without ctr or the Go client: images are read from the content store,
// container filesystems are overlayfs snapshots prepared on the image's
// unpacked layer chain, and the process runs under the runc v2 shim with
// stdout and stderr appended to a file (the shim's file:// stdio).
//
// Every call carries the agent's containerd namespace and a deadline.
// Thread-safe: gRPC stubs are.

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "agent/runtime/container_runtime.h"
#include "agent/runtime/oci_spec.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

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
  absl::StatusOr<ExecResult> Exec(const std::string& id, const std::vector<std::string>& args,
                                  absl::Duration timeout) override;
  absl::StatusOr<std::map<std::string, ContainerStats>> Stats(
      const std::vector<std::string>& ids) override;

 private:
  struct ResolvedImage {
    ImageConfig config;
    std::string chain_id;
  };

  // Every call carries the namespace; pull and create calls also carry a
  // lease, so what they make (half-written content, a snapshot not yet
  // owned by a container) is safe from containerd's garbage collector until
  // they finish, and collected if the agent dies halfway.
  std::unique_ptr<grpc::ClientContext> Context(const std::string& lease = "") const;
  class Lease {
   public:
    Lease(ContainerdRuntime* runtime, std::string id) : runtime_(runtime), id_(std::move(id)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    const std::string& id() const { return id_; }

   private:
    ContainerdRuntime* const runtime_;
    const std::string id_;
  };
  // A lease that expires after `expiry` even if never deleted.
  absl::StatusOr<std::unique_ptr<Lease>> NewLease(absl::string_view purpose, absl::Duration expiry);
  absl::Status Check(const grpc::Status& status, absl::string_view what) const;
  absl::StatusOr<std::string> ReadBlob(const std::string& digest);
  absl::StatusOr<ResolvedImage> ResolveImage(const std::string& name);
  absl::Status CheckUnpacked(const std::string& image, const std::string& chain_id);
  // Pull steps (containerd_images.cc).
  absl::StatusOr<bool> HasContent(const std::string& digest, const std::string& lease);
  absl::Status WriteContent(
      const std::string& lease, const registry::Descriptor& desc,
      const std::map<std::string, std::string>& labels,
      const std::function<absl::Status(const std::function<absl::Status(absl::string_view)>&)>&
          producer);
  absl::Status Unpack(const std::string& lease, const std::vector<registry::Descriptor>& layers,
                      const std::vector<std::string>& diff_ids);
  absl::Status PutImage(const std::string& name, const registry::Descriptor& target);
  absl::StatusOr<int64_t> ImageSize(const std::string& digest, const std::string& media_type);

  const Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<containerd::services::containers::v1::Containers::Stub> containers_;
  std::unique_ptr<containerd::services::content::v1::Content::Stub> content_;
  std::unique_ptr<containerd::services::diff::v1::Diff::Stub> diff_;
  std::unique_ptr<containerd::services::leases::v1::Leases::Stub> leases_;
  std::unique_ptr<containerd::services::images::v1::Images::Stub> images_;
  std::unique_ptr<containerd::services::snapshots::v1::Snapshots::Stub> snapshots_;
  std::unique_ptr<containerd::services::tasks::v1::Tasks::Stub> tasks_;
  std::unique_ptr<containerd::services::version::v1::Version::Stub> version_;

  std::mutex size_mu_;
  std::map<std::string, int64_t> sizes_;  // image digest -> size
};

}  // namespace gantry::agent
