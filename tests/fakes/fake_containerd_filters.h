#pragma once

// containerd's list filters, as the fake containerd understands them. A
// filter is a comma-separated conjunction of selectors; a request's several
// filters are alternatives (any may match; none given matches everything).
// A selector is a field path and optionally an operator and a value:
//
//   labels."io.gantry.node"=="node-1",id!=web,image~="^registry/"
//
// Path elements and values may be double-quoted; a selector without an
// operator asks that the field be present. Pure; test-only.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry::testing::containerd_fake {

// The value of the field at `path` of the object being matched, or nullopt
// when the object has no such field.
using FieldLookup = std::function<std::optional<std::string>(const std::vector<std::string>& path)>;

class Filter {
 public:
  static absl::StatusOr<Filter> Parse(absl::string_view text);
  bool Matches(const FieldLookup& field) const;

 private:
  struct Selector {
    std::vector<std::string> path;
    std::string op;  // "", "==", "!=" or "~="
    std::string value;
  };
  std::vector<Selector> selectors_;
};

// Whether the object matches any of `filters` (all objects match none).
// InvalidArgument names a filter that does not parse.
absl::StatusOr<bool> MatchesAny(const std::vector<std::string>& filters, const FieldLookup& field);

}  // namespace gantry::testing::containerd_fake
