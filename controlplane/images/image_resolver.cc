#include "controlplane/images/image_resolver.h"

#include "absl/strings/str_cat.h"
#include "common/registry/reference.h"

namespace gantry::images {

absl::StatusOr<std::string> RegistryImageResolver::Resolve(const std::string& image) {
  auto ref = registry::ParseReference(image);
  if (!ref.ok()) return ref.status();
  if (!ref->digest.empty()) return ref->digest;
  auto digest = client_.Resolve(*ref);
  if (!digest.ok()) {
    return absl::Status(digest.status().code(),
                        absl::StrCat("resolve ", ref->String(), ": ", digest.status().message()));
  }
  return digest;
}

}  // namespace gantry::images
