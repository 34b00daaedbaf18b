#pragma once

// The image side of the agent's containerd: resolving an image to its
// config and layer chain, checking that it is unpacked, pulling from a
// registry into containerd's content store and unpacking onto snapshots (as
// containerd's own client does), and listing and removing images.
//
// A pull runs under a lease (with an expiry, so a crashed agent's leftovers
// are collected too). Blobs are labelled with the references containerd's
// garbage collector follows (index -> manifest -> config and layers ->
// snapshot), so once the image record exists and the lease is gone,
// everything it needs survives and anything half-done does not.
//
// Thread-safe: the client is, and the size cache has its own lock.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/runtime/container_runtime.h"
#include "agent/runtime/containerd_client.h"
#include "agent/runtime/oci_spec.h"
#include "common/registry/registry_client.h"

namespace gantry::agent {

class ContainerdImages {
 public:
  // `client` outlives this.
  ContainerdImages(const ContainerdClient* client, std::string snapshotter)
      : client_(client), snapshotter_(std::move(snapshotter)) {}

  struct Resolved {
    ImageConfig config;
    std::string chain_id;  // the snapshot of its unpacked layers
  };
  // The image's config (choosing linux/amd64 from an index); NOT_FOUND,
  // saying how to import it, when containerd does not have it.
  absl::StatusOr<Resolved> Resolve(const std::string& name) const;
  // NOT_FOUND unless the image's layers are unpacked for the snapshotter.
  absl::Status CheckUnpacked(const std::string& image, const std::string& chain_id) const;

  absl::Status Pull(const registry::Reference& ref, registry::RegistryClient& registry);
  absl::StatusOr<std::vector<ImageInfo>> List();
  // Deletes the record and (synchronously) what only it kept.
  absl::Status Remove(const std::string& name);

 private:
  // Streams a blob into the content store unless it is there (then only
  // its labels are added).
  using Producer =
      std::function<absl::Status(const std::function<absl::Status(absl::string_view)>&)>;
  absl::StatusOr<bool> HasContent(const std::string& digest, const std::string& lease) const;
  absl::Status WriteContent(const std::string& lease, const registry::Descriptor& desc,
                            const std::map<std::string, std::string>& labels,
                            const Producer& producer) const;
  absl::Status LabelContent(const std::string& lease, const registry::Descriptor& desc,
                            const std::map<std::string, std::string>& labels) const;
  // Unpacks each layer not unpacked yet onto the snapshot of its chain ID.
  absl::Status Unpack(const std::string& lease, const std::vector<registry::Descriptor>& layers,
                      const std::vector<std::string>& diff_ids) const;
  absl::Status UnpackLayer(const std::string& lease, const registry::Descriptor& layer,
                           const std::string& diff_id, const std::string& parent,
                           const std::string& chain) const;
  absl::Status PutImage(const std::string& name, const registry::Descriptor& target) const;
  // Config plus layers, cached by digest.
  absl::StatusOr<int64_t> ImageSize(const std::string& digest, const std::string& media_type);

  const ContainerdClient* const client_;
  const std::string snapshotter_;

  std::mutex size_mu_;
  std::map<std::string, int64_t> sizes_ ABSL_GUARDED_BY(size_mu_);  // image digest -> size
};

}  // namespace gantry::agent
