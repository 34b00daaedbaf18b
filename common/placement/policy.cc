#include "common/placement/policy.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gantry::scheduler {

PlacementPolicy PlacementPolicy::Default() {
  PlacementPolicy p;
  p.strategies = {{Strategy::Kind::kSpread, Strategy::Field::kZone, ""},
                  {Strategy::Kind::kSpread, Strategy::Field::kNode, ""}};
  return p;
}

absl::StatusOr<PlacementPolicy> PlacementPolicy::FromProto(const gantry::v1::Placement& in) {
  PlacementPolicy p;
  for (int i = 0; i < in.strategy_size(); ++i) {
    const auto& s = in.strategy(i);
    const std::string where = absl::StrCat("placement.strategy[", i, "]");
    Strategy out;
    if (s.type() == "spread") {
      out.kind = Strategy::Kind::kSpread;
      if (s.field() == "zone") {
        out.field = Strategy::Field::kZone;
      } else if (s.field() == "node") {
        out.field = Strategy::Field::kNode;
      } else if (absl::StartsWith(s.field(), "attribute:") && s.field().size() > 10) {
        out.field = Strategy::Field::kAttribute;
        out.attribute = s.field().substr(10);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".field: spread takes zone, node or attribute:KEY, got \"", s.field(), "\""));
      }
    } else if (s.type() == "binpack") {
      out.kind = Strategy::Kind::kBinpack;
      if (s.field() == "cpu") {
        out.field = Strategy::Field::kCpu;
      } else if (s.field() == "memory") {
        out.field = Strategy::Field::kMemory;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".field: binpack takes cpu or memory, got \"", s.field(), "\""));
      }
    } else if (s.type() == "random") {
      out.kind = Strategy::Kind::kRandom;
      out.field = Strategy::Field::kNone;
      if (!s.field().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".field: random takes no field"));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".type: expected spread, binpack or random, got \"", s.type(), "\""));
    }
    p.strategies.push_back(std::move(out));
  }
  if (p.strategies.empty()) p.strategies = Default().strategies;
  for (int i = 0; i < in.constraints_size(); ++i) {
    const auto& c = in.constraints(i);
    const std::string where = absl::StrCat("placement.constraints[", i, "]");
    if (c.type() == "distinctInstance") {
      if (!c.expression().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".expression: distinctInstance takes no expression"));
      }
      p.distinct_instance = true;
    } else if (c.type() == "memberOf") {
      if (c.expression().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".expression: required, e.g. \"attribute:disk == ssd and zone in [a, b]\""));
      }
      auto e = Expression::Parse(c.expression());
      if (!e.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".expression: ", e.status().message()));
      }
      p.member_of.push_back(std::move(*e));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".type: expected distinctInstance or memberOf, got \"", c.type(), "\""));
    }
  }
  return p;
}

std::string PlacementPolicy::Describe() const {
  std::vector<std::string> parts;
  for (const auto& s : strategies) {
    switch (s.kind) {
      case Strategy::Kind::kSpread:
        parts.push_back(absl::StrCat("spread(",
                                     s.field == Strategy::Field::kZone ? "zone"
                                     : s.field == Strategy::Field::kNode
                                         ? "node"
                                         : absl::StrCat("attribute:", s.attribute),
                                     ")"));
        break;
      case Strategy::Kind::kBinpack:
        parts.push_back(
            absl::StrCat("binpack(", s.field == Strategy::Field::kCpu ? "cpu" : "memory", ")"));
        break;
      case Strategy::Kind::kRandom:
        parts.push_back("random");
        break;
    }
  }
  std::string out = absl::StrJoin(parts, ", ");
  if (distinct_instance) out += "; distinctInstance";
  for (const auto& e : member_of) out += absl::StrCat("; memberOf(", e.text(), ")");
  return out;
}

}  // namespace gantry::scheduler
