#pragma once

// YAML documents read from text with yaml-cpp, bounded. Debian 12's
// yaml-cpp (0.7) never returns from YAML::LoadAll on some inputs (a lone
// ",", "--- ,", "&a,", found by tests/fuzz/spec_fuzz): a token no node can
// start with is left unread, and each following "document" starts at it
// again, forever, allocating as it goes. LoadYamlDocuments first walks the
// events and refuses text where a document starts where the previous one
// did, naming the line, column and character, then loads the documents.
// Also bounds the size. Pure.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace gantry {

inline constexpr size_t kMaxYamlBytes = 4 << 20;

// Every document of `text`, or InvalidArgument "<source>: line N: ..."
// saying what is wrong (yaml-cpp's own errors included).
absl::StatusOr<std::vector<YAML::Node>> LoadYamlDocuments(const std::string& text,
                                                          absl::string_view source);

}  // namespace gantry
