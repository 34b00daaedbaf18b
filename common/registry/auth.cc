#include "common/registry/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gantry::registry {

absl::StatusOr<Challenge> ParseChallenge(const std::string& header) {
  Challenge c;
  size_t i = 0;
  while (i < header.size() && header[i] == ' ') ++i;
  const size_t scheme_end = header.find(' ', i);
  c.scheme = absl::AsciiStrToLower(header.substr(i, scheme_end - i));
  if (c.scheme.empty()) return absl::InvalidArgumentError("empty authentication challenge");
  if (scheme_end == std::string::npos) return c;
  i = scheme_end + 1;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    const size_t eq = header.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = absl::AsciiStrToLower(header.substr(i, eq - i));
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value.push_back(header[i++]);
      }
      if (i >= header.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("authentication challenge: unterminated quote in ", key));
      }
      ++i;
    } else {
      const size_t end = header.find(',', i);
      value = header.substr(i, end - i);
      i = end == std::string::npos ? header.size() : end;
    }
    c.params[key] = value;
  }
  return c;
}

}  // namespace gantry::registry
