#include "controlplane/autoscaling/autoscaler.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/deployments/deployments.h"

namespace gantry::autoscaling {

using gantry::v1::Autoscaling;
using gantry::v1::AutoscalingStatus;
using gantry::v1::Deployment;
using gantry::v1::Service;

namespace {

absl::Time Last(bool known, const google::protobuf::Timestamp& t) {
  return known ? FromProtoTime(t) : absl::InfinitePast();
}

std::string Number(double v) { return absl::StrFormat("%.6g", v); }

}  // namespace

Autoscaler::Autoscaler(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                       Prometheus* prometheus, metrics::ControlPlaneMetrics* metrics,
                       Options options)
    : state_(state),
      events_(events),
      clock_(clock),
      prometheus_(prometheus),
      metrics_(metrics),
      options_(options) {}

void Autoscaler::Start() {
  loop_ = std::make_unique<Periodic>(clock_, options_.interval, [this] { EvaluateAll(); });
}

void Autoscaler::Stop() { loop_.reset(); }

void Autoscaler::EvaluateAll() {
  const absl::Time began = absl::Now();
  bool any = false;
  for (const auto& s : state_->ListServices()) {
    if (!s.has_autoscaling() || s.status() != Service::ACTIVE) {
      stabilizers_.erase(s.name());
      continue;
    }
    any = true;
    if (auto st = Evaluate(s); !st.ok()) {
      spdlog::warn("autoscaling {}: {}", s.name(), st.message());
    }
  }
  if (any && metrics_ != nullptr) metrics_->LoopPass("autoscaler", absl::Now() - began);
}

void Autoscaler::RecordOnce(const std::string& service, const std::string& key,
                            const std::string& message) {
  auto& last = last_event_[service];
  if (last == key) return;
  last = key;
  events_->Record(service, "", "", message);
}

absl::Status Autoscaler::Evaluate(const Service& service) {
  const absl::Time now = clock_->Now();
  const AutoscalingStatus& previous = service.autoscaling_status();
  AutoscalingStatus status;
  *status.mutable_last_evaluated() = ToProtoTime(now);
  if (previous.has_last_scale_out()) *status.mutable_last_scale_out() = previous.last_scale_out();
  if (previous.has_last_scale_in()) *status.mutable_last_scale_in() = previous.last_scale_in();
  const Observations seen = Observe(service, status);
  const Outcome outcome = Judge(service, seen, now, status);
  return Write(service, status, outcome, now);
}

Autoscaler::Observations Autoscaler::Observe(const Service& service, AutoscalingStatus& status) {
  const Autoscaling& a = service.autoscaling();
  const int current = service.desired_count();
  Observations seen;
  auto observe = [&](const std::string& query, auto&& recommend, auto&& quote) {
    auto* v = status.add_values();
    v->set_query(query);
    auto result = prometheus_->Query(a.prometheus(), query);
    absl::StatusOr<double> value = result.ok() ? SingleValue(*result) : result.status();
    if (!value.ok()) {
      v->set_error(std::string(value.status().message()));
      if (seen.error.empty()) {
        seen.error = absl::StrCat("query `", query, "`: ", value.status().message());
      }
      return;
    }
    const int r = recommend(*value);
    v->set_value(*value);
    v->set_recommendation(r);
    seen.recommendation = std::max(seen.recommendation, r);
    seen.quotes.push_back(
        absl::StrCat("`", query, "` = ", Number(*value), quote(*value), " -> ", r));
  };
  // Target tracking scales what serves now: while new tasks are starting,
  // the per-task numbers still come from the running ones.
  const int serving =
      service.running_count() > 0 ? std::min(current, service.running_count()) : current;
  for (const auto& tt : a.target_tracking()) {
    observe(
        tt.query(), [&](double v) { return TargetTracking(current, serving, v, tt.target()); },
        [&](double) { return absl::StrCat(" (target ", Number(tt.target()), ")"); });
  }
  for (const auto& ss : a.step_scaling()) {
    observe(
        ss.query(), [&](double v) { return StepScaling(current, v, ss.steps()); },
        [&](double v) { return absl::StrCat(" (", DescribeStep(ChosenStep(v, ss.steps())), ")"); });
  }
  return seen;
}

DecisionInput Autoscaler::InputFor(const Service& service, int recommendation, absl::Time now) {
  const Autoscaling& a = service.autoscaling();
  const AutoscalingStatus& previous = service.autoscaling_status();
  const int current = service.desired_count();
  auto [it, fresh] = stabilizers_.try_emplace(service.name());
  // Nothing is known of the window yet (new service or restarted control
  // plane): it holds the current count until it has filled.
  const absl::Duration in_cooldown =
      a.has_scale_in_cooldown() ? FromProtoDuration(a.scale_in_cooldown()) : absl::Seconds(300);
  const absl::Duration window =
      a.has_scale_in_window() ? FromProtoDuration(a.scale_in_window()) : in_cooldown;
  if (fresh) it->second.Add(now, current, window);
  it->second.Add(now, recommendation, window);
  DecisionInput in;
  in.current = current;
  in.recommendation = recommendation;
  in.window_highest = it->second.Highest(now, window);
  in.min_count = a.min_count();
  in.max_count = a.max_count();
  in.now = now;
  in.last_scale_out = Last(previous.has_last_scale_out(), previous.last_scale_out());
  in.last_scale_in = Last(previous.has_last_scale_in(), previous.last_scale_in());
  in.scale_out_cooldown =
      a.has_scale_out_cooldown() ? FromProtoDuration(a.scale_out_cooldown()) : absl::Seconds(30);
  in.scale_in_cooldown = in_cooldown;
  in.disable_scale_in = a.disable_scale_in();
  const Deployment* primary = deployments::Primary(service);
  in.deployment_in_progress =
      primary != nullptr && primary->rollout_state() == Deployment::IN_PROGRESS;
  return in;
}

Autoscaler::Outcome Autoscaler::Judge(const Service& service, const Observations& seen,
                                      absl::Time now, AutoscalingStatus& status) {
  const int current = service.desired_count();
  Outcome out;
  out.desired = current;
  if (!seen.error.empty()) {
    status.set_last_decision(absl::StrCat("no action: ", seen.error));
    if (metrics_ != nullptr) metrics_->AutoscalingError(service.name());
    out.event_key = absl::StrCat("error ", seen.error);
    out.event =
        absl::StrCat("autoscaling: no action, the count stays at ", current, ": ", seen.error);
    return out;
  }
  if (seen.recommendation < 0) {
    status.set_last_decision("no policies to evaluate");
    return out;
  }
  const Decision d = Decide(InputFor(service, seen.recommendation, now));
  const std::string quoted = absl::StrJoin(seen.quotes, "; ");
  status.set_last_decision(absl::StrCat(d.reason, ": ", quoted));
  if (d.scale) {
    out.desired = d.desired;
    out.direction = out.desired > current ? "out" : "in";
    *(out.direction == "out" ? status.mutable_last_scale_out() : status.mutable_last_scale_in()) =
        ToProtoTime(now);
    out.event = absl::StrCat("autoscaling: ", d.reason, ": ", quoted);
  } else if (!absl::StartsWith(d.reason, "steady")) {
    // A held decision is worth one event per kind of hold.
    out.event_key = d.reason.substr(0, d.reason.find(','));
    out.event = absl::StrCat("autoscaling: ", d.reason, ": ", quoted);
  } else if (absl::StartsWith(service.autoscaling_status().last_decision(), "no action: ")) {
    // The last round could not read its queries; without this, that error
    // would stay the service's latest word on autoscaling.
    out.event_key = "answer again";
    out.event = absl::StrCat("autoscaling: the queries answer again; ", d.reason, ": ", quoted);
  }
  return out;
}

absl::Status Autoscaler::Write(const Service& service, const AutoscalingStatus& status,
                               const Outcome& out, absl::Time now) {
  const int current = service.desired_count();
  bool scaled = false;
  RETURN_IF_ERROR(state_->UpdateService(service.name(), [&](Service& s) {
    scaled = false;
    if (!s.has_autoscaling() || s.status() != Service::ACTIVE) return false;
    *s.mutable_autoscaling_status() = status;
    // A count changed meanwhile (gantryctl scale) wins; the next round
    // starts from it.
    if (out.desired != current && s.desired_count() == current) {
      s.set_desired_count(out.desired);
      if (auto* p = deployments::Primary(s)) p->set_desired_count(out.desired);
      *s.mutable_updated_at() = ToProtoTime(now);
      scaled = true;
    }
    return true;
  }));
  if (scaled) {
    if (metrics_ != nullptr) metrics_->AutoscalingDecision(service.name(), out.direction);
    last_event_.erase(service.name());
    events_->Record(service.name(), "", "", out.event);
  } else if (!out.event.empty()) {
    RecordOnce(service.name(), out.event_key, out.event);
  } else {
    last_event_.erase(service.name());
  }
  return absl::OkStatus();
}

}  // namespace gantry::autoscaling
