#include "ctl/terminal_text.h"

#include "absl/strings/str_format.h"

namespace gantry::ctl {

std::string EscapeControls(absl::string_view text) {
  TerminalText t(false);
  std::string out = t.Feed(text);
  return out + t.Flush();
}

std::string TerminalText::Feed(absl::string_view chunk) {
  std::string out;
  out.reserve(chunk.size());
  for (size_t i = 0; i < chunk.size(); ++i) {
    const auto c = static_cast<unsigned char>(chunk[i]);
    if (pending_c2_) {
      pending_c2_ = false;
      // U+0080..U+009F, the C1 controls (CSI is U+009B), in UTF-8.
      if (c >= 0x80 && c <= 0x9f) {
        absl::StrAppendFormat(&out, "\\u%04x", c);
        continue;
      }
      out += '\xc2';
    }
    if (c == 0xc2) {
      pending_c2_ = true;
    } else if ((c < 0x20 || c == 0x7f) && !(keep_lines_ && (c == '\n' || c == '\t'))) {
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          absl::StrAppendFormat(&out, "\\x%02x", c);
      }
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string TerminalText::Flush() {
  if (!pending_c2_) return "";
  pending_c2_ = false;
  return "\xc2";
}

}  // namespace gantry::ctl
