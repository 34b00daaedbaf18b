#pragma once

// An ImageResolver answering from a map set by the test: a known tag
// resolves to its digest, an unknown one is "manifest unknown", and
// `failure` (when set) answers every call. Counts calls. Not thread-safe:
// tests resolve inline.

#include <map>
#include <string>

#include "controlplane/images/image_resolver.h"

namespace gantry::testing {

class FakeResolver : public images::ImageResolver {
 public:
  absl::StatusOr<std::string> Resolve(const std::string& image) override {
    calls++;
    if (!failure.ok()) return failure;
    auto it = digests.find(image);
    if (it == digests.end()) return absl::NotFoundError("manifest unknown");
    return it->second;
  }
  std::map<std::string, std::string> digests;
  absl::Status failure;
  int calls = 0;
};

}  // namespace gantry::testing
