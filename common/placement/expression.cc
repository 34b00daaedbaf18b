#include "common/placement/expression.h"

#include <fnmatch.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gantry::scheduler {

struct Expression::Node {
  enum class Kind { kAnd, kOr, kNot, kEquals, kNotEquals, kIn, kNotIn, kGlob, kExists };
  Kind kind;
  std::shared_ptr<const Node> left;
  std::shared_ptr<const Node> right;
  // Comparisons: the operand and its values.
  enum class Operand { kZone, kNode, kAttribute } operand = Operand::kZone;
  std::string attribute;
  std::vector<std::string> values;
};

namespace {

using Node = Expression::Node;

struct Token {
  enum class Type { kWord, kString, kOp, kLParen, kRParen, kLBracket, kRBracket, kComma, kEnd };
  Type type;
  std::string text;
  size_t pos;  // 1-based
};

absl::StatusOr<std::vector<Token>> Tokenize(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  auto error = [&](size_t at, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("position ", at + 1, ": ", what));
  };
  while (i < s.size()) {
    const char c = s[i];
    if (absl::ascii_isspace(c)) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',') {
      const Token::Type t = c == '('   ? Token::Type::kLParen
                            : c == ')' ? Token::Type::kRParen
                            : c == '[' ? Token::Type::kLBracket
                            : c == ']' ? Token::Type::kRBracket
                                       : Token::Type::kComma;
      out.push_back({t, std::string(1, c), start + 1});
      ++i;
    } else if (c == '=' || c == '!') {
      if (i + 1 < s.size() && (s[i + 1] == '=' || (c == '=' && s[i + 1] == '~'))) {
        out.push_back({Token::Type::kOp, s.substr(i, 2), start + 1});
        i += 2;
      } else {
        return error(i, "expected ==, != or =~");
      }
    } else if (c == '"' || c == '\'') {
      const size_t end = s.find(c, i + 1);
      if (end == std::string::npos) return error(i, "unterminated quoted string");
      out.push_back({Token::Type::kString, s.substr(i + 1, end - i - 1), start + 1});
      i = end + 1;
    } else {
      while (i < s.size() && !absl::ascii_isspace(s[i]) &&
             std::string("()[],=!\"'").find(s[i]) == std::string::npos) {
        ++i;
      }
      out.push_back({Token::Type::kWord, s.substr(start, i - start), start + 1});
    }
  }
  out.push_back({Token::Type::kEnd, "", s.size() + 1});
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  absl::StatusOr<std::shared_ptr<const Node>> Parse() {
    auto e = Or();
    if (!e.ok()) return e;
    if (Peek().type != Token::Type::kEnd) return Error("expected and, or or the end");
    return e;
  }

 private:
  const Token& Peek() const { return t_[i_]; }
  bool IsWord(absl::string_view w) const {
    return Peek().type == Token::Type::kWord && Peek().text == w;
  }
  absl::Status Error(absl::string_view what) const {
    const Token& t = Peek();
    return absl::InvalidArgumentError(
        absl::StrCat("position ", t.pos, ": ", what,
                     t.type == Token::Type::kEnd ? " (found the end)"
                                                 : absl::StrCat(" (found \"", t.text, "\")")));
  }

  absl::StatusOr<std::shared_ptr<const Node>> Or() {
    auto left = And();
    if (!left.ok()) return left;
    while (IsWord("or")) {
      ++i_;
      auto right = And();
      if (!right.ok()) return right;
      left = std::make_shared<const Node>(Node{Node::Kind::kOr, *left, *right});
    }
    return left;
  }

  absl::StatusOr<std::shared_ptr<const Node>> And() {
    auto left = Unary();
    if (!left.ok()) return left;
    while (IsWord("and")) {
      ++i_;
      auto right = Unary();
      if (!right.ok()) return right;
      left = std::make_shared<const Node>(Node{Node::Kind::kAnd, *left, *right});
    }
    return left;
  }

  absl::StatusOr<std::shared_ptr<const Node>> Unary() {
    const bool nests = IsWord("not") || Peek().type == Token::Type::kLParen;
    if (nests && depth_ == kMaxExpressionDepth) {
      return Error(absl::StrCat("nested deeper than the limit of ", kMaxExpressionDepth));
    }
    if (IsWord("not")) {
      ++i_;
      ++depth_;
      auto inner = Unary();
      --depth_;
      if (!inner.ok()) return inner;
      return std::make_shared<const Node>(Node{Node::Kind::kNot, *inner, nullptr});
    }
    if (Peek().type == Token::Type::kLParen) {
      ++i_;
      ++depth_;
      auto inner = Or();
      --depth_;
      if (!inner.ok()) return inner;
      if (Peek().type != Token::Type::kRParen) return Error("expected )");
      ++i_;
      return inner;
    }
    return Comparison();
  }

  absl::StatusOr<std::string> Value() {
    const Token& t = Peek();
    if (t.type != Token::Type::kWord && t.type != Token::Type::kString) {
      return Error("expected a value");
    }
    ++i_;
    return t.text;
  }

  absl::Status List(std::vector<std::string>& out) {
    if (Peek().type != Token::Type::kLBracket) return Error("expected [");
    ++i_;
    for (;;) {
      auto v = Value();
      if (!v.ok()) return v.status();
      out.push_back(*v);
      if (Peek().type == Token::Type::kComma) {
        ++i_;
        continue;
      }
      if (Peek().type == Token::Type::kRBracket) {
        ++i_;
        return absl::OkStatus();
      }
      return Error("expected , or ]");
    }
  }

  absl::StatusOr<std::shared_ptr<const Node>> Comparison() {
    Node n{Node::Kind::kEquals, nullptr, nullptr};
    const Token& operand = Peek();
    if (operand.type != Token::Type::kWord) {
      return Error("expected zone, node or attribute:KEY");
    }
    if (operand.text == "zone") {
      n.operand = Node::Operand::kZone;
    } else if (operand.text == "node") {
      n.operand = Node::Operand::kNode;
    } else if (absl::StartsWith(operand.text, "attribute:") && operand.text.size() > 10) {
      n.operand = Node::Operand::kAttribute;
      n.attribute = operand.text.substr(10);
    } else {
      return Error("expected zone, node or attribute:KEY");
    }
    ++i_;
    const Token& op = Peek();
    if (op.type == Token::Type::kOp) {
      n.kind = op.text == "=="   ? Node::Kind::kEquals
               : op.text == "!=" ? Node::Kind::kNotEquals
                                 : Node::Kind::kGlob;
      ++i_;
      auto v = Value();
      if (!v.ok()) return v.status();
      n.values.push_back(*v);
    } else if (IsWord("in")) {
      n.kind = Node::Kind::kIn;
      ++i_;
      if (auto st = List(n.values); !st.ok()) return st;
    } else if (IsWord("not")) {
      ++i_;
      if (!IsWord("in")) return Error("expected in after not");
      ++i_;
      n.kind = Node::Kind::kNotIn;
      if (auto st = List(n.values); !st.ok()) return st;
    } else if (IsWord("exists")) {
      ++i_;
      if (n.operand != Node::Operand::kAttribute) {
        --i_;
        return Error("exists applies to attribute:KEY only");
      }
      n.kind = Node::Kind::kExists;
    } else {
      return Error("expected ==, !=, =~, in, not in or exists");
    }
    return std::make_shared<const Node>(std::move(n));
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
};

bool Eval(const Node& n, const NodeFacts& f) {
  switch (n.kind) {
    case Node::Kind::kAnd:
      return Eval(*n.left, f) && Eval(*n.right, f);
    case Node::Kind::kOr:
      return Eval(*n.left, f) || Eval(*n.right, f);
    case Node::Kind::kNot:
      return !Eval(*n.left, f);
    default:
      break;
  }
  const std::string* value = nullptr;
  switch (n.operand) {
    case Node::Operand::kZone:
      value = f.zone;
      break;
    case Node::Operand::kNode:
      value = f.name;
      break;
    case Node::Operand::kAttribute:
      if (f.attributes != nullptr) {
        auto it = f.attributes->find(n.attribute);
        if (it != f.attributes->end()) value = &it->second;
      }
      break;
  }
  if (n.kind == Node::Kind::kExists) return value != nullptr;
  if (value == nullptr) return n.kind == Node::Kind::kNotEquals || n.kind == Node::Kind::kNotIn;
  switch (n.kind) {
    case Node::Kind::kEquals:
      return *value == n.values[0];
    case Node::Kind::kNotEquals:
      return *value != n.values[0];
    case Node::Kind::kGlob:
      return fnmatch(n.values[0].c_str(), value->c_str(), 0) == 0;
    case Node::Kind::kIn:
    case Node::Kind::kNotIn: {
      bool found = false;
      for (const auto& v : n.values) found |= v == *value;
      return n.kind == Node::Kind::kIn ? found : !found;
    }
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<Expression> Expression::Parse(const std::string& text) {
  if (text.size() > kMaxExpressionLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        text.size(), " characters is longer than the limit of ", kMaxExpressionLength));
  }
  auto tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens));
  auto root = parser.Parse();
  if (!root.ok()) return root.status();
  Expression e;
  e.text_ = text;
  e.root_ = *root;
  return e;
}

bool Expression::Matches(const NodeFacts& node) const { return Eval(*root_, node); }

}  // namespace gantry::scheduler
