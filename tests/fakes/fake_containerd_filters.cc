#include "tests/fakes/fake_containerd_filters.h"

#include <regex>

#include "absl/strings/str_cat.h"

namespace gantry::testing::containerd_fake {

namespace {

// Reads a double-quoted string at text[*pos] (which is '"'), with backslash
// escapes, and leaves *pos after the closing quote.
absl::StatusOr<std::string> Quoted(absl::string_view text, size_t* pos) {
  std::string out;
  for (size_t i = *pos + 1; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out.push_back(text[++i]);
    } else if (text[i] == '"') {
      *pos = i + 1;
      return out;
    } else {
      out.push_back(text[i]);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unterminated quote in filter \"", text, "\""));
}

bool IsOperatorStart(char c) { return c == '=' || c == '!' || c == '~'; }

// A bare path element: up to the next '.', operator, ',' or end.
std::string BareElement(absl::string_view text, size_t* pos) {
  size_t end = *pos;
  while (end < text.size() && text[end] != '.' && text[end] != ',' && !IsOperatorStart(text[end])) {
    ++end;
  }
  std::string out(text.substr(*pos, end - *pos));
  *pos = end;
  return out;
}

}  // namespace

absl::StatusOr<Filter> Filter::Parse(absl::string_view text) {
  Filter filter;
  size_t pos = 0;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter \"", text, "\" at ", pos, ": ", why, ": invalid argument"));
  };
  while (pos < text.size()) {
    Selector sel;
    for (;;) {  // the field path
      if (text[pos] == '"') {
        auto element = Quoted(text, &pos);
        if (!element.ok()) return element.status();
        sel.path.push_back(*element);
      } else {
        sel.path.push_back(BareElement(text, &pos));
      }
      if (sel.path.back().empty()) return bad("empty field name");
      if (pos >= text.size() || text[pos] != '.') break;
      ++pos;
    }
    if (pos < text.size() && IsOperatorStart(text[pos])) {
      sel.op = std::string(text.substr(pos, 2));
      if (sel.op != "==" && sel.op != "!=" && sel.op != "~=") return bad("unknown operator");
      pos += 2;
      if (pos < text.size() && text[pos] == '"') {
        auto value = Quoted(text, &pos);
        if (!value.ok()) return value.status();
        sel.value = *value;
      } else {
        const size_t end = std::min(text.find(',', pos), text.size());
        sel.value = std::string(text.substr(pos, end - pos));
        pos = end;
      }
      if (sel.op == "~=") {
        try {
          std::regex check(sel.value);
        } catch (const std::regex_error&) {
          return bad("malformed regular expression");
        }
      }
    }
    if (pos < text.size() && text[pos] != ',') return bad("expected ','");
    if (pos < text.size()) ++pos;
    filter.selectors_.push_back(std::move(sel));
  }
  return filter;
}

bool Filter::Matches(const FieldLookup& field) const {
  for (const auto& sel : selectors_) {
    const std::optional<std::string> value = field(sel.path);
    if (!value.has_value()) return false;
    if (sel.op == "==" && *value != sel.value) return false;
    if (sel.op == "!=" && *value == sel.value) return false;
    if (sel.op == "~=" && !std::regex_search(*value, std::regex(sel.value))) return false;
  }
  return true;
}

absl::StatusOr<bool> MatchesAny(const std::vector<std::string>& filters, const FieldLookup& field) {
  if (filters.empty()) return true;
  for (const auto& text : filters) {
    auto filter = Filter::Parse(text);
    if (!filter.ok()) return filter.status();
    if (filter->Matches(field)) return true;
  }
  return false;
}

}  // namespace gantry::testing::containerd_fake
