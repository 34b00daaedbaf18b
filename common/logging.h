#pragma once

#include <string>

#include "absl/status/status.h"

namespace gantry {

// Configures the default spdlog logger for a binary: stderr, a compact
// pattern, and the level named by `level` (trace, debug, info, warn, error).
absl::Status SetupLogging(const std::string& program, const std::string& level);

}  // namespace gantry
