#include "common/registry/manifest.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_fields.h"
#include "common/registry/reference.h"
#include "nlohmann/json.hpp"

namespace gantry::registry {

using nlohmann::json;

std::string ManifestAcceptHeader() {
  return absl::StrJoin({kOciIndex, kOciManifest, kDockerList, kDockerManifest}, ", ");
}

bool IsIndexType(const std::string& t) { return t == kOciIndex || t == kDockerList; }
bool IsManifestType(const std::string& t) { return t == kOciManifest || t == kDockerManifest; }

namespace {

absl::StatusOr<Descriptor> ParseDescriptor(const json& j, absl::string_view where) {
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string() || !j.contains("size") ||
      !j["size"].is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": descriptor without digest or size"));
  }
  Descriptor d;
  d.media_type = JsonText(j, "mediaType");
  d.digest = j["digest"].get<std::string>();
  d.size = j["size"].get<int64_t>();
  if (!IsDigest(d.digest)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": unsupported digest ", d.digest));
  }
  if (d.size < 0) return absl::InvalidArgumentError(absl::StrCat(where, ": negative size"));
  const auto& platform = JsonMember(j, "platform");
  d.os = JsonText(platform, "os");
  d.architecture = JsonText(platform, "architecture");
  return d;
}

}  // namespace

std::string DeclaredMediaType(const std::string& body, const std::string& fallback) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) {
    return j["mediaType"].get<std::string>();
  }
  // OCI indexes may omit mediaType; they are recognised by "manifests".
  if (j.is_object() && j.contains("manifests")) return kOciIndex;
  return fallback;
}

absl::StatusOr<std::vector<Descriptor>> ParseIndex(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) {
    return absl::InvalidArgumentError("image index: no manifests list");
  }
  std::vector<Descriptor> out;
  for (size_t i = 0; i < j["manifests"].size(); ++i) {
    auto d = ParseDescriptor(j["manifests"][i], absl::StrCat("image index: manifests[", i, "]"));
    if (!d.ok()) return d.status();
    out.push_back(std::move(*d));
  }
  return out;
}

absl::StatusOr<Manifest> ParseManifest(const std::string& body, const std::string& media_type) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError("manifest: not a JSON object");
  if (JsonInteger(j, "schemaVersion") != 2) {
    return absl::InvalidArgumentError(
        "manifest: only schema version 2 (OCI or Docker v2) is supported");
  }
  Manifest m;
  m.media_type = DeclaredMediaType(body, media_type);
  if (!IsManifestType(m.media_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: unsupported media type \"", m.media_type, "\""));
  }
  if (!j.contains("config")) return absl::InvalidArgumentError("manifest: no config");
  auto config = ParseDescriptor(j["config"], "manifest: config");
  if (!config.ok()) return config.status();
  m.config = *config;
  if (!j.contains("layers") || !j["layers"].is_array() || j["layers"].empty()) {
    return absl::InvalidArgumentError("manifest: no layers");
  }
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    auto d = ParseDescriptor(j["layers"][i], absl::StrCat("manifest: layers[", i, "]"));
    if (!d.ok()) return d.status();
    m.layers.push_back(std::move(*d));
  }
  return m;
}

absl::StatusOr<Descriptor> SelectPlatform(const std::vector<Descriptor>& entries,
                                          const std::string& os, const std::string& arch) {
  std::vector<std::string> seen;
  for (const auto& d : entries) {
    if (d.os == os && d.architecture == arch) return d;
    seen.push_back(absl::StrCat(d.os, "/", d.architecture));
  }
  return absl::NotFoundError(absl::StrCat("no ", os, "/", arch, " image in the index (it has ",
                                          seen.empty() ? "none" : absl::StrJoin(seen, ", "), ")"));
}

}  // namespace gantry::registry
