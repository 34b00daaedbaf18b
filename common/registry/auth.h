#pragma once

// Parsing of the WWW-Authenticate challenges registries send with 401
// answers, e.g.
//   Bearer realm="https://auth.example.org/token",service="registry",scope="repository:a/b:pull"
//   Basic realm="Registry Realm"
// Pure.

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace gantry::registry {

struct Challenge {
  std::string scheme;  // lowercased: "bearer" or "basic"
  std::map<std::string, std::string> params;
};

absl::StatusOr<Challenge> ParseChallenge(const std::string& header);

}  // namespace gantry::registry
