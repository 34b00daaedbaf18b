#pragma once

// Text from outside gantryctl (health check output, container output, the
// reasons and messages agents report) made safe to print on a terminal:
// control characters that could move the cursor, retitle the window or
// hide text (ESC, CR, backspace, the C1 controls) are shown escaped, as
// \x1b or \u009b, instead of being acted on.
//
// Pure. A TerminalText object escapes a stream of chunks, so a UTF-8 C1
// control split across two chunks is still caught; one per stream.

#include <string>

#include "absl/strings/string_view.h"

namespace gantry::ctl {

// For one table cell or line: every control character escaped, newline and
// tab too.
std::string EscapeControls(absl::string_view text);

class TerminalText {
 public:
  // `keep_lines`: newline and tab pass through (container output).
  explicit TerminalText(bool keep_lines) : keep_lines_(keep_lines) {}
  std::string Feed(absl::string_view chunk);
  // What a chunk ending in the middle of a character held back.
  std::string Flush();

 private:
  bool keep_lines_;
  bool pending_c2_ = false;  // the last chunk ended in 0xC2
};

}  // namespace gantry::ctl
