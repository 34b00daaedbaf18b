#pragma once

// Writing files that hold secrets or must never be seen half-written.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gantry {

// Writes `content` to a temporary file created with `mode` (so it is never
// readable by others, not even for a moment), syncs it and renames it over
// `path`. Errors name the path.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content,
                                 int mode = 0600);

// Creates the directory (and its parents) if needed and sets it to 0700.
absl::Status MakePrivateDirectory(const std::string& path);

// The whole file; NotFound when it does not exist, errors name the path.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace gantry
