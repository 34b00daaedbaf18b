#pragma once

// OCI and Docker schema-2 manifests and indexes: media types, parsing, and
// choosing the linux/amd64 manifest from an index or manifest list. Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gantry::registry {

inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kDockerList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";

// What the manifest endpoint is asked to return, in order of preference.
std::string ManifestAcceptHeader();

bool IsIndexType(const std::string& media_type);
bool IsManifestType(const std::string& media_type);

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::string os;            // index entries only
  std::string architecture;  // index entries only
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

// `media_type` is the Content-Type the registry sent (used when the body
// does not say).
absl::StatusOr<std::vector<Descriptor>> ParseIndex(const std::string& body);
absl::StatusOr<Manifest> ParseManifest(const std::string& body, const std::string& media_type);
// The media type the body declares, or `fallback`.
std::string DeclaredMediaType(const std::string& body, const std::string& fallback);
absl::StatusOr<Descriptor> SelectPlatform(const std::vector<Descriptor>& entries,
                                          const std::string& os, const std::string& arch);

}  // namespace gantry::registry
