#pragma once

// The rules for secrets as task definitions and `gantryctl secret` name
// them, shared by gantryctl (before anything is sent) and the control plane
// (for every call): secret names, "name" / "name:3" references, a
// container's `secrets:` list (each an environment variable or a file, no
// two on one name or path), and which plain environment keys look like
// credentials. Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/spec/validation.h"
#include "gantry/v1/types.pb.h"

namespace gantry::spec {

// The largest secret value, as Kubernetes allows (1 MiB there; a secret is
// a password, a key or a certificate, not a file store).
inline constexpr size_t kMaxSecretBytes = 64 * 1024;

// "" or why `name` cannot name a secret: 1 to 128 lowercase letters,
// digits, '-', '_' and '.', starting with a letter or digit.
std::string SecretNameProblem(absl::string_view name);

// "db-password" (version 0: the one current when a deployment starts) or
// "db-password:3".
struct SecretRef {
  std::string name;
  int64_t version = 0;
};
absl::StatusOr<SecretRef> ParseSecretRef(absl::string_view value_from);

// Letters, digits and '_', not starting with a digit.
bool IsEnvName(absl::string_view name);

// Adds the problems of `container`'s secret references, with fields under
// `path` ("containers[0]").
void ValidateSecretReferences(const gantry::v1::ContainerDefinition& container,
                              const std::string& path, std::vector<FieldError>& errors);

// Plain environment keys of `td` that look like credentials (*PASSWORD*,
// *SECRET*, *TOKEN*, *_KEY, ...), as "containers[0].environment.DB_PASSWORD".
std::vector<std::string> CredentialLikeEnvironment(const gantry::v1::TaskDefinition& td);

// ` (did you mean "db-password"?)` when one of `known` is a small typo
// away from `name`, else "".
std::string DidYouMean(absl::string_view name, const std::vector<std::string>& known);

}  // namespace gantry::spec
