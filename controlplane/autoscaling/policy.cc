#include "controlplane/autoscaling/policy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gantry::autoscaling {

int TargetTracking(int current, int serving, double value, double target) {
  if (target <= 0 || !std::isfinite(value)) return current;
  const double ratio = value / target;
  if (std::fabs(ratio - 1.0) <= 0.1 + 1e-9) return current;  // tolerance
  const double desired = std::ceil(std::max(serving, 1) * ratio - 1e-9);
  return static_cast<int>(std::clamp(desired, 0.0, static_cast<double>(kMaxRecommendation)));
}

const gantry::v1::Autoscaling::Step* ChosenStep(
    double value, const google::protobuf::RepeatedPtrField<gantry::v1::Autoscaling::Step>& steps) {
  // Among the steps that apply, the one whose bound is passed furthest.
  const gantry::v1::Autoscaling::Step* best = nullptr;
  double best_bound = 0;
  for (const auto& s : steps) {
    if (s.has_above() && value > s.above()) {
      if (best == nullptr || !best->has_above() || s.above() > best_bound) {
        best = &s;
        best_bound = s.above();
      }
    } else if (s.has_below() && value < s.below()) {
      if (best == nullptr || (!best->has_above() && s.below() < best_bound)) {
        best = &s;
        best_bound = s.below();
      }
    }
  }
  return best;
}

int StepScaling(int current, double value,
                const google::protobuf::RepeatedPtrField<gantry::v1::Autoscaling::Step>& steps) {
  const auto* best = ChosenStep(value, steps);
  return best == nullptr ? current : current + best->adjust();
}

std::string DescribeStep(const gantry::v1::Autoscaling::Step* step) {
  if (step == nullptr) return "no step applies";
  return absl::StrCat("step ", step->has_above() ? "above " : "below ",
                      absl::StrFormat("%g", step->has_above() ? step->above() : step->below()),
                      ": ", step->adjust() >= 0 ? "+" : "", step->adjust());
}

void Stabilizer::Add(absl::Time at, int recommendation, absl::Duration keep) {
  history_.emplace_back(at, recommendation);
  while (!history_.empty() && history_.front().first < at - keep) history_.pop_front();
}

int Stabilizer::Highest(absl::Time now, absl::Duration window) const {
  int highest = 0;
  for (const auto& [t, r] : history_) {
    if (t >= now - window) highest = std::max(highest, r);
  }
  return highest;
}

Decision Decide(const DecisionInput& in) {
  const int lo = in.min_count;
  const int hi = std::max(in.min_count, in.max_count);
  Decision d;
  d.desired = in.current;
  if (in.current < lo || in.current > hi) {
    d.desired = std::clamp(in.current, lo, hi);
    d.scale = true;
    d.reason = absl::StrCat("the count ", in.current, " is outside ", lo, "..", hi);
    return d;
  }
  const int target = std::clamp(in.recommendation, lo, hi);
  if (target > in.current) {
    if (in.now - in.last_scale_out < in.scale_out_cooldown) {
      d.reason =
          absl::StrCat("would scale out to ", target, ", but the scale-out cooldown runs until ",
                       absl::FormatTime("%H:%M:%S", in.last_scale_out + in.scale_out_cooldown,
                                        absl::UTCTimeZone()));
      return d;
    }
    d.desired = target;
    d.scale = true;
    d.reason = absl::StrCat("scale out ", in.current, " -> ", target);
    return d;
  }
  if (target < in.current) {
    if (in.disable_scale_in) {
      d.reason = "scale-in is disabled";
      return d;
    }
    if (in.deployment_in_progress) {
      d.reason = absl::StrCat("would scale in to ", target, ", but a deployment is in progress");
      return d;
    }
    const int stabilized = std::clamp(std::max(in.window_highest, target), lo, hi);
    if (stabilized >= in.current) {
      d.reason = absl::StrCat("would scale in to ", target,
                              ", but the scale-in window still holds ", stabilized);
      return d;
    }
    const absl::Time last = std::max(in.last_scale_in, in.last_scale_out);
    if (in.now - last < in.scale_in_cooldown) {
      d.reason = absl::StrCat(
          "would scale in to ", stabilized, ", but the scale-in cooldown runs until ",
          absl::FormatTime("%H:%M:%S", last + in.scale_in_cooldown, absl::UTCTimeZone()));
      return d;
    }
    d.desired = stabilized;
    d.scale = true;
    d.reason = absl::StrCat("scale in ", in.current, " -> ", stabilized);
    return d;
  }
  d.reason = absl::StrCat("steady at ", in.current);
  return d;
}

}  // namespace gantry::autoscaling
