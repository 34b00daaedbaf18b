#include "common/registry/reference.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gantry::registry {

namespace {

bool ValidRepository(absl::string_view repo) {
  if (repo.empty()) return false;
  for (char c : repo) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '/' || c == '.' || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return repo.front() != '/' && repo.back() != '/' && !absl::StrContains(repo, "//");
}

bool ValidTag(absl::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  for (char c : tag) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-')) return false;
  }
  return tag.front() != '.' && tag.front() != '-';
}

}  // namespace

bool IsDigest(absl::string_view text) {
  if (!absl::StartsWith(text, "sha256:") || text.size() != 7 + 64) return false;
  for (char c : text.substr(7)) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

std::string Reference::Name() const { return absl::StrCat(registry, "/", repository); }

std::string Reference::String() const {
  if (!digest.empty()) return absl::StrCat(Name(), "@", digest);
  return absl::StrCat(Name(), ":", tag);
}

std::string Reference::ApiHost() const {
  return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

Reference Reference::WithDigest(const std::string& d) const {
  Reference out = *this;
  out.digest = d;
  out.tag.clear();
  return out;
}

absl::StatusOr<Reference> ParseReference(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("image reference \"", text, "\": ", why));
  };
  if (text.empty()) return bad("empty");
  Reference ref;
  absl::string_view rest = text;
  if (const size_t at = rest.find('@'); at != absl::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!IsDigest(ref.digest)) return bad("the digest must be sha256: and 64 hex digits");
  }
  // A tag is a ':' after the last '/'.
  const size_t slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos && (slash == absl::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!ValidTag(ref.tag)) return bad("invalid tag");
  }
  // The first component is a registry host if it looks like one.
  const size_t first = rest.find('/');
  if (first != absl::string_view::npos) {
    absl::string_view head = rest.substr(0, first);
    if (absl::StrContains(head, ".") || absl::StrContains(head, ":") || head == "localhost") {
      ref.registry = std::string(head);
      rest = rest.substr(first + 1);
    }
  }
  if (ref.registry.empty()) {
    ref.registry = "docker.io";
    if (!absl::StrContains(rest, "/")) ref.repository = absl::StrCat("library/", rest);
  }
  if (ref.repository.empty()) ref.repository = std::string(rest);
  if (!ValidRepository(ref.repository)) {
    return bad("the repository may contain only lowercase letters, digits and . _ - /");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace gantry::registry
