#include "common/yaml_guard.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gantry {
namespace {

size_t Indent(absl::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  return i;
}

// Whether a block scalar (| or >, with optional indicators) starts at the
// end of `line`.
bool StartsBlockScalar(absl::string_view line) {
  const size_t hash = line.find(" #");
  absl::string_view code = absl::StripTrailingAsciiWhitespace(line.substr(0, hash));
  while (!code.empty() &&
         (absl::ascii_isdigit(code.back()) || code.back() == '-' || code.back() == '+')) {
    code.remove_suffix(1);
  }
  return !code.empty() && (code.back() == '|' || code.back() == '>') &&
         (code.size() == 1 || code[code.size() - 2] == ' ');
}

}  // namespace

absl::Status CheckYamlText(absl::string_view text, absl::string_view source) {
  if (text.size() > kMaxYamlBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", text.size(), " bytes is larger than the limit of ", kMaxYamlBytes));
  }
  int flow = 0;            // depth of [ ] and { }
  char quote = 0;          // inside a quoted scalar
  long block_indent = -1;  // inside a block scalar deeper than this
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    const size_t indent = Indent(line);
    if (block_indent >= 0) {
      if (indent == line.size() || static_cast<long>(indent) > block_indent) continue;
      block_indent = -1;
    }
    // A token starts at the line's first character, after an indicator
    // ("- ", ": ", "? "), after '[', '{' and ',' in flow, and after "---".
    bool token_start = quote == 0;
    bool after_indicator = false;  // yaml-cpp answers ", ..." there with an error
    bool after_quoted = false;     // a quoted value just ended
    for (size_t i = indent; i < line.size(); ++i) {
      const char c = line[i];
      if (quote != 0) {
        if (quote == '"' && c == '\\') {
          ++i;  // an escaped character
        } else if (c == quote) {
          quote = 0;
          after_quoted = true;
        }
        continue;
      }
      if (c == '#' && (i == 0 || line[i - 1] == ' ')) break;  // a comment
      if (c == ' ' || c == '\t' || c == '\r') continue;
      if (c == ',' && flow == 0 && ((token_start && !after_indicator) || after_quoted)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": line ", number,
                         ": ',' outside [ ] or { } where a value starts; quote the value"));
      }
      const bool was_start = token_start;
      token_start = after_indicator = after_quoted = false;
      if ((c == '&' || c == '!' || c == '*') && was_start) {
        // An anchor or tag comes before the value; an alias is one.
        while (i + 1 < line.size() &&
               absl::string_view(" \t,[]{}").find(line[i + 1]) == absl::string_view::npos) {
          ++i;
        }
        token_start = c != '*';
        after_quoted = c == '*';
      } else if ((c == '"' || c == '\'') && was_start) {
        quote = c;  // a quote inside a plain scalar is an ordinary character
      } else if (c == '[' || c == '{' || (c == ',' && flow > 0)) {
        if (c != ',') ++flow;
        token_start = true;
      } else if ((c == ']' || c == '}') && flow > 0) {
        --flow;
      } else if (c == '-' && was_start && line.substr(i, 3) == "---") {
        i += 2;
        token_start = true;
      } else if ((c == '-' || c == '?' || c == ':') &&
                 (i + 1 == line.size() || line[i + 1] == ' ')) {
        token_start = after_indicator = true;
      }
    }
    if (quote == 0 && flow == 0 && StartsBlockScalar(line)) block_indent = indent;
  }
  return absl::OkStatus();
}

}  // namespace gantry
