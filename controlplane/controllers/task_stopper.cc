#include "controlplane/controllers/task_stopper.h"

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/deployments/deployments.h"

namespace gantry::controllers {

using gantry::v1::Task;

absl::StatusOr<TaskStopper::Outcome> TaskStopper::StopOne(const std::string& id,
                                                          const std::string& reason, bool failed,
                                                          bool balanced, absl::Duration delay,
                                                          absl::Time now) {
  Outcome outcome = Outcome::kUnchanged;
  RETURN_IF_ERROR(state_->UpdateTask(id, [&](Task& t) {
    outcome = Outcome::kUnchanged;
    if (t.desired_status() == Task::STOPPED) return false;
    // Behind a load balancer a running task first leaves it, and stops
    // once its requests have had the deregistration delay to finish.
    if (balanced && t.last_status() == Task::RUNNING && delay > absl::ZeroDuration()) {
      if (!t.has_deregistered_at()) {
        *t.mutable_deregistered_at() = ToProtoTime(now);
        if (failed) t.set_failed(true);
        outcome = Outcome::kDeregistered;
        return true;
      }
      if (now < FromProtoTime(t.deregistered_at()) + delay) return false;
    }
    t.set_desired_status(Task::STOPPED);
    if (t.stopped_reason().empty()) t.set_stopped_reason(reason);
    if (failed) t.set_failed(true);
    if (t.last_status() == Task::RUNNING) t.set_last_status(Task::STOPPING);
    outcome = Outcome::kStopped;
    return true;
  }));
  return outcome;
}

absl::Status TaskStopper::Stop(const gantry::v1::Service* service,
                               const std::vector<std::string>& ids, const std::string& reason,
                               bool failed) {
  const bool balanced = service != nullptr && service->has_load_balancer();
  const absl::Duration delay =
      balanced ? deployments::SettingsOf(*service).deregistration_delay : absl::ZeroDuration();
  const absl::Time now = clock_->Now();
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(const Outcome outcome, StopOne(id, reason, failed, balanced, delay, now));
    if (outcome == Outcome::kDeregistered) {
      rechecks_->At(service->name(), now + delay);
      events_->Record(service->name(), id, "",
                      absl::StrCat("task ", id.substr(0, 8), " left the load balancer (", reason,
                                   "); stopping it in ", absl::FormatDuration(delay)));
    } else if (outcome == Outcome::kStopped) {
      auto t = state_->GetTask(id);
      events_->Record(t ? t->value.service() : "", id, t ? t->value.node() : "",
                      absl::StrCat("stopping task ", id.substr(0, 8), ": ", reason));
    } else if (balanced) {
      // Still waiting out the delay.
      auto t = state_->GetTask(id);
      if (t && t->value.has_deregistered_at() && t->value.desired_status() == Task::RUNNING) {
        rechecks_->At(service->name(), FromProtoTime(t->value.deregistered_at()) + delay);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace gantry::controllers
