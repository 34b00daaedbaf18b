#pragma once

// memberOf constraint expressions, e.g.
//   attribute:disk == ssd and zone in [a, b]
//   not (node =~ "gpu-*") or attribute:tier exists
// Operands: zone, node, attribute:KEY. Operators: ==, !=, in [..],
// not in [..], =~ (glob), exists; combined with and, or, not and
// parentheses (not binds tightest, then and, then or). Values are bare words
// or quoted strings. Parsing reports the 1-based position of an error.
// An expression is at most kMaxExpressionLength characters and nests (not
// and parentheses) at most kMaxExpressionDepth deep, so neither parsing nor
// matching can exhaust a thread's stack.
// Pure; a parsed Expression is immutable and cheap to copy.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gantry::scheduler {

inline constexpr size_t kMaxExpressionLength = 2048;
inline constexpr int kMaxExpressionDepth = 32;

// What an expression can look at on a node.
struct NodeFacts {
  const std::string* name = nullptr;
  const std::string* zone = nullptr;
  const std::map<std::string, std::string>* attributes = nullptr;
};

class Expression {
 public:
  static absl::StatusOr<Expression> Parse(const std::string& text);
  bool Matches(const NodeFacts& node) const;
  const std::string& text() const { return text_; }

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

}  // namespace gantry::scheduler
