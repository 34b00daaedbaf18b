#pragma once

// Reads small files (the image's /etc/passwd and /etc/group) out of a
// container's root filesystem before it runs, without mounting it: the
// snapshot's mounts name the directories whose union is the rootfs (an
// overlay's upper and lower directories, or one bound directory), and a
// file is looked up in them top first, as overlayfs would, honouring
// whiteouts and opaque directories.
//
// The image is not trusted: no symbolic link is followed (a link in the
// path is an error, so an image cannot point the agent at the host's
// files), only regular files are read, and at most kMaxRootfsFileBytes.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gantry::agent {

inline constexpr size_t kMaxRootfsFileBytes = 1 << 20;

// One mount of a snapshot, as containerd describes it.
struct RootMount {
  std::string type;  // "overlay" or "bind"
  std::string source;
  std::vector<std::string> options;
};

// The directories the rootfs is made of, top first. InvalidArgument for a
// mount type that is neither overlay nor bind.
absl::StatusOr<std::vector<std::string>> RootfsLayers(const std::vector<RootMount>& mounts);

// The contents of `path` ("etc/passwd", relative to the rootfs) in the
// union of `layers`; nullopt when no layer has it (or a whiteout hides it).
absl::StatusOr<std::optional<std::string>> ReadRootfsFile(const std::vector<std::string>& layers,
                                                          const std::string& path);

}  // namespace gantry::agent
