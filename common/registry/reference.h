#pragma once

// Image references as users write them: "host[:port]/repo:tag",
// "host/repo@sha256:...", or Docker Hub short forms ("busybox",
// "team/app:1"), normalised as Docker does. Pure functions.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry::registry {

struct Reference {
  std::string registry;    // "127.0.0.1:5000", "docker.io"
  std::string repository;  // "demo/web", "library/busybox"
  std::string tag;         // empty when a digest is given without a tag
  std::string digest;      // "sha256:..." or empty

  // "registry/repository" — the name without tag or digest.
  std::string Name() const;
  // The canonical reference: Name() plus "@digest" if set, else ":tag".
  std::string String() const;
  // The tag or digest to ask the registry's manifest endpoint for.
  std::string ManifestRef() const { return digest.empty() ? tag : digest; }
  // Host to talk to: Docker Hub's API lives at registry-1.docker.io.
  std::string ApiHost() const;
  // The same reference pinned to `digest`, without its tag.
  Reference WithDigest(const std::string& digest) const;
};

absl::StatusOr<Reference> ParseReference(absl::string_view text);

// True for "sha256:" followed by 64 lowercase hex digits.
bool IsDigest(absl::string_view text);

}  // namespace gantry::registry
