#pragma once

// A check of YAML text before yaml-cpp sees it. Debian 12's yaml-cpp (0.7)
// never returns from some inputs: a ',' where a value starts outside any
// [ ] or { } (a lone ",", "--- ,", a line that starts with ','), found by
// tests/fuzz/spec_fuzz. Such text is refused with the line, so a typo in a
// file cannot hang gantryctl or the agent. The check is conservative: it
// may refuse exotic valid YAML (a multi-line plain scalar whose next line
// starts with ','); quoting the value always passes. Also bounds the size.
// Pure.

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace gantry {

inline constexpr size_t kMaxYamlBytes = 4 << 20;

// OK, or InvalidArgument "<source>: line N: ..." saying what to change.
absl::Status CheckYamlText(absl::string_view text, absl::string_view source);

}  // namespace gantry
