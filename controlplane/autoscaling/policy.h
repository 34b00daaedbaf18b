#pragma once

// The autoscaling arithmetic, pure:
//   target tracking: desired = ceil(current x value / target), unchanged
//     within a 10% tolerance;
//   step scaling: the step whose bound the value passes furthest adjusts
//     the count;
//   the decision: the largest recommendation wins, clamped to min and max;
//     scale-out respects its cooldown; scale-in respects its cooldown, waits
//     while a deployment is in progress, and uses the highest recommendation
//     over the scale-in window (stabilization, as Kubernetes' HPA).

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gantry/v1/types.pb.h"

namespace gantry::autoscaling {

// The count that brings `value` to `target`: ceil(serving x value / target),
// where `serving` is the tasks the value was measured over (the running
// ones); within 10% of the target, `current` (the desired count) stays.
// Bounded to [0, kMaxRecommendation].
int TargetTracking(int current, int serving, double value, double target);
inline constexpr int kMaxRecommendation = 1000000;
int StepScaling(int current, double value,
                const google::protobuf::RepeatedPtrField<gantry::v1::Autoscaling::Step>& steps);
// The step that applies to `value` (the bound passed furthest), or null.
const gantry::v1::Autoscaling::Step* ChosenStep(
    double value, const google::protobuf::RepeatedPtrField<gantry::v1::Autoscaling::Step>& steps);
// "step above 1000: +2", or "no step applies".
std::string DescribeStep(const gantry::v1::Autoscaling::Step* step);

// Recommendations over time, for the scale-in window.
class Stabilizer {
 public:
  // Adds a recommendation and forgets those older than `keep` (the longest
  // window asked of it).
  void Add(absl::Time at, int recommendation, absl::Duration keep);
  // The highest recommendation within `window` before `now`.
  int Highest(absl::Time now, absl::Duration window) const;

 private:
  std::deque<std::pair<absl::Time, int>> history_;
};

struct DecisionInput {
  int current = 0;
  int recommendation = 0;  // the largest of this evaluation's
  int window_highest = 0;  // the highest over the scale-in window
  int min_count = 0;
  int max_count = 0;
  absl::Time now;
  absl::Time last_scale_out = absl::InfinitePast();
  absl::Time last_scale_in = absl::InfinitePast();
  absl::Duration scale_out_cooldown;
  absl::Duration scale_in_cooldown;
  bool disable_scale_in = false;
  bool deployment_in_progress = false;
};

struct Decision {
  int desired = 0;
  bool scale = false;
  std::string reason;
};

Decision Decide(const DecisionInput& in);

}  // namespace gantry::autoscaling
