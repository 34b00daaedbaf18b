#pragma once

// Parsing and formatting of the quantities users write in specs and flags:
// CPU ("250m", "0.25", "2" cores), memory ("64Mi", "1Gi", "500M", plain
// bytes) and durations ("30s", "1m30s", "500ms"). Pure functions.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gantry {

// Returns millicores. "250m" -> 250, "0.25" -> 250, "2" -> 2000.
absl::StatusOr<int64_t> ParseCpu(absl::string_view text);
// Returns bytes. Binary suffixes Ki Mi Gi Ti, decimal k M G T, or none.
absl::StatusOr<int64_t> ParseMemory(absl::string_view text);
// Go-style durations: "30s", "1m30s", "500ms", "2h". Negative is an error.
absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text);

// "250m", "2" (whole cores are printed without the m).
std::string FormatCpu(int64_t millicores);
// "64Mi", "1.5Gi", "100" (bytes that are not a round binary unit).
std::string FormatMemory(int64_t bytes);
// "30s", "1m30s", "500ms".
std::string FormatDurationText(absl::Duration d);

}  // namespace gantry
