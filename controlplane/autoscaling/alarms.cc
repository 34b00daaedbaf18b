#include "controlplane/autoscaling/alarms.h"

#include <cmath>
#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/quantity.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/deployments/deployments.h"

namespace gantry::autoscaling {

using gantry::v1::Deployment;
using gantry::v1::Service;

AlarmWatcher::AlarmWatcher(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                           Prometheus* prometheus, metrics::ControlPlaneMetrics* metrics,
                           Options options)
    : state_(state),
      events_(events),
      clock_(clock),
      prometheus_(prometheus),
      metrics_(metrics),
      options_(options) {}

void AlarmWatcher::Start() {
  loop_ = std::make_unique<Periodic>(clock_, options_.interval, [this] { EvaluateAll(); });
}

void AlarmWatcher::Stop() { loop_.reset(); }

void AlarmWatcher::EvaluateAll() {
  const absl::Time began = absl::Now();
  bool any = false;
  std::set<std::string> watched;
  for (const auto& s : state_->ListServices()) {
    const auto& alarms = s.deployment_configuration().alarms();
    const Deployment* d = deployments::Primary(s);
    if (alarms.rules().empty() || d == nullptr || s.status() != Service::ACTIVE ||
        d->rollout_state() != Deployment::IN_PROGRESS || !d->rollback_of().empty() ||
        !d->alarm().empty() || d->alarms_waived()) {
      continue;
    }
    any = true;
    watched.insert(d->id());
    if (auto st = Evaluate(s, *d); !st.ok()) {
      spdlog::warn("alarms of {}: {}", s.name(), st.message());
    }
  }
  // Forget deployments that are no longer watched.
  for (auto it = last_error_.begin(); it != last_error_.end();) {
    it = watched.contains(it->first) ? std::next(it) : last_error_.erase(it);
  }
  if (any && metrics_ != nullptr) metrics_->LoopPass("alarms", absl::Now() - began);
}

absl::Status AlarmWatcher::Evaluate(const Service& service, const Deployment& d) {
  const auto& alarms = service.deployment_configuration().alarms();
  std::string unavailable;  // the first rule that could not be evaluated, and why
  for (const auto& rule : alarms.rules()) {
    auto result = prometheus_->Query(alarms.prometheus(), rule.query());
    if (!result.ok()) {
      if (metrics_ != nullptr) metrics_->AlarmError(service.name());
      if (unavailable.empty()) {
        unavailable = absl::StrCat("alarm ", rule.name(), " could not be evaluated (",
                                   result.status().message(), ")");
      }
      continue;
    }
    // A vector fires with any series; a scalar (`1 > bool 0`) when not 0.
    const bool fired = result->scalar ? result->values[0] != 0 && !std::isnan(result->values[0])
                                      : !result->values.empty();
    if (!fired) continue;
    const std::string alarm =
        absl::StrCat("alarm ", rule.name(), " fired: `", rule.query(), "` returned ",
                     result->scalar ? "a scalar" : absl::StrCat(result->values.size(), " series"),
                     " (first value ", absl::StrFormat("%.6g", result->values[0]), ")");
    if (metrics_ != nullptr) metrics_->AlarmFired(service.name(), rule.name());
    return SetAlarm(service, d, alarm);
  }
  return Unavailable(service, d, unavailable);
}

absl::Status AlarmWatcher::SetAlarm(const Service& service, const Deployment& d,
                                    const std::string& alarm) {
  return state_->UpdateService(service.name(), [&](Service& s) {
    Deployment* current = deployments::Find(s, d.id());
    if (current == nullptr || current->rollout_state() != Deployment::IN_PROGRESS ||
        !current->alarm().empty()) {
      return false;
    }
    current->set_alarm(alarm);
    return true;
  });
}

absl::Status AlarmWatcher::Unavailable(const Service& service, const Deployment& d,
                                       const std::string& problem) {
  const absl::Time now = clock_->Now();
  auto hold = [&](std::function<void(Deployment&)> change) {
    return state_->UpdateService(service.name(), [&](Service& s) {
      Deployment* current = deployments::Find(s, d.id());
      if (current == nullptr || current->rollout_state() != Deployment::IN_PROGRESS) return false;
      change(*current);
      return true;
    });
  };
  if (problem.empty()) {
    last_error_.erase(d.id());
    if (!d.has_alarms_unavailable_since()) return absl::OkStatus();
    events_->Record(service.name(), "", "",
                    absl::StrCat("deployment ", d.id(), ": its alarms answer again; it goes on"));
    return hold([](Deployment& c) { c.clear_alarms_unavailable_since(); });
  }
  auto& last = last_error_[d.id()];
  if (!d.has_alarms_unavailable_since()) {
    last = problem;
    events_->Record(service.name(), "", "",
                    absl::StrCat("deployment ", d.id(), " holds: ", problem, "; it waits up to ",
                                 FormatDurationText(options_.unavailable_timeout),
                                 " for them, then ", OnUnavailable(service)));
    return hold([&](Deployment& c) { *c.mutable_alarms_unavailable_since() = ToProtoTime(now); });
  }
  if (last != problem) {
    last = problem;
    events_->Record(service.name(), "", "", absl::StrCat("deployment ", d.id(), ": ", problem));
  }
  const absl::Duration waited = now - FromProtoTime(d.alarms_unavailable_since());
  if (waited < options_.unavailable_timeout) return absl::OkStatus();
  const std::string why =
      absl::StrCat("its alarms could not be evaluated for ",
                   FormatDurationText(options_.unavailable_timeout), " (", problem, ")");
  if (service.deployment_configuration().alarms().on_unavailable() == "proceed") {
    events_->Record(service.name(), "", "",
                    absl::StrCat("deployment ", d.id(), ": ", why,
                                 "; alarms.onUnavailable is proceed: it goes on without them"));
    return hold([](Deployment& c) {
      c.clear_alarms_unavailable_since();
      c.set_alarms_waived(true);
    });
  }
  return SetAlarm(service, d, absl::StrCat(why, "; alarms.onUnavailable is fail"));
}

std::string AlarmWatcher::OnUnavailable(const Service& service) {
  return service.deployment_configuration().alarms().on_unavailable() == "proceed"
             ? "goes on without them (alarms.onUnavailable: proceed)"
             : "fails (alarms.onUnavailable: fail)";
}

}  // namespace gantry::autoscaling
