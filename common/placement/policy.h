#pragma once

// A service's placement policy, parsed and checked from its spec (ECS
// semantics):
//   strategy:    spread (zone | node | attribute:KEY), binpack (cpu |
//                memory), random — applied in order, later ones break ties;
//   constraints: distinctInstance, memberOf EXPRESSION.
// The default is spread by zone, then by node. Pure.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/placement/expression.h"
#include "gantry/v1/types.pb.h"

namespace gantry::scheduler {

struct Strategy {
  enum class Kind { kSpread, kBinpack, kRandom };
  enum class Field { kNone, kZone, kNode, kAttribute, kCpu, kMemory };
  Kind kind = Kind::kSpread;
  Field field = Field::kZone;
  std::string attribute;  // for kAttribute
};

struct PlacementPolicy {
  std::vector<Strategy> strategies;
  bool distinct_instance = false;
  std::vector<Expression> member_of;

  static PlacementPolicy Default();
  // Errors name the field: "placement.constraints[1].expression: position 9:
  // expected ]".
  static absl::StatusOr<PlacementPolicy> FromProto(const gantry::v1::Placement& placement);
  // "spread(zone), spread(node); memberOf(zone in [a, b])".
  std::string Describe() const;
};

}  // namespace gantry::scheduler
