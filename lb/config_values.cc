#include "lb/config_values.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace gantry::lb {

namespace {

// OK when `text` is 1 to `max` characters that `ok` accepts; otherwise the
// error states `rule` and why.
template <typename Ok>
absl::Status CheckWord(absl::string_view text, size_t max, Ok ok, absl::string_view rule) {
  auto broken = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(rule, " (", why, ")"));
  };
  if (text.empty()) return broken("it is empty");
  if (text.size() > max) return broken(absl::StrCat("it is ", text.size(), " characters long"));
  for (char c : text) {
    if (!ok(c)) {
      return broken(absl::StrCat("it holds '", absl::CHexEscape(absl::string_view(&c, 1)), "'"));
    }
  }
  return absl::OkStatus();
}

bool IdChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; }
bool NameChar(char c) { return IdChar(c) || c == '.'; }
bool PathChar(char c) {
  return NameChar(c) || c == '/' || c == '+' || c == ',' || c == '=' || c == '@';
}

}  // namespace

absl::Status CheckTaskId(absl::string_view task_id) {
  return CheckWord(task_id, 64, IdChar, "must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-'");
}

absl::Status CheckServerName(absl::string_view name) {
  return CheckWord(name, 64, NameChar, "must be 1 to 64 of A-Z, a-z, 0-9, '_', '-' and '.'");
}

absl::Status CheckServiceName(absl::string_view service) {
  return CheckWord(service, 128, NameChar, "must be 1 to 128 of A-Z, a-z, 0-9, '.', '_' and '-'");
}

absl::Status CheckPort(uint32_t port) {
  if (port >= 1 && port <= 65535) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("must be from 1 to 65535 (it is ", port, ")"));
}

absl::Status CheckWeight(int weight) {
  if (weight >= 0 && weight <= 256) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("must be from 0 to 256 (it is ", weight, ")"));
}

absl::Status CheckConfigPath(absl::string_view path) {
  constexpr char kRule[] =
      "must be an absolute path of at most 100 of A-Z, a-z, 0-9, '/', '.', '_', '-', '+', ',', "
      "'=' and '@'";
  if (auto st = CheckWord(path, 100, PathChar, kRule); !st.ok()) return st;
  if (path.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(kRule, " (it is relative)"));
  }
  return absl::OkStatus();
}

absl::Status CheckAccountName(absl::string_view name) {
  constexpr char kRule[] =
      "must be 1 to 32 of A-Z, a-z, 0-9, '_', '.' and '-', not starting with '-'";
  if (auto st = CheckWord(name, 32, NameChar, kRule); !st.ok()) return st;
  if (name.front() == '-') return absl::InvalidArgumentError(absl::StrCat(kRule, " (it does)"));
  return absl::OkStatus();
}

}  // namespace gantry::lb
