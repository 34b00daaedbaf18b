#include "controlplane/identity/identity.h"

#include "absl/strings/str_cat.h"

namespace gantry::identity {

std::string Identity::Describe() const {
  switch (kind) {
    case Kind::kOperatorToken:
      return absl::StrCat("token \"", name, "\" (role ", role, ")");
    case Kind::kOperatorCertificate:
      return absl::StrCat("certificate \"", name, "\" (role ", role, ")");
    case Kind::kNode:
      return absl::StrCat("node \"", name, "\"");
  }
  return absl::StrCat("\"", name, "\"");
}

}  // namespace gantry::identity
