#include "controlplane/deployments/deployments.h"

#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace gantry::deployments {

using gantry::v1::Deployment;
using gantry::v1::Service;

Deployment* Primary(Service& service) {
  for (auto& d : *service.mutable_deployments()) {
    if (d.status() == Deployment::PRIMARY) return &d;
  }
  return nullptr;
}

const Deployment* Primary(const Service& service) {
  for (const auto& d : service.deployments()) {
    if (d.status() == Deployment::PRIMARY) return &d;
  }
  return nullptr;
}

Deployment* Find(Service& service, const std::string& id) {
  for (auto& d : *service.mutable_deployments()) {
    if (d.id() == id) return &d;
  }
  return nullptr;
}

const Deployment* LastCompleted(const Service& service, const std::string& except_id) {
  for (const auto& d : service.deployments()) {
    if (d.id() != except_id && d.rollout_state() == Deployment::COMPLETED) return &d;
  }
  return nullptr;
}

Deployment& Start(Service& service, const std::string& task_definition, absl::Time now,
                  const std::string& rollback_of) {
  if (Deployment* p = Primary(service)) p->set_status(Deployment::ACTIVE);
  Deployment d;
  service.set_deployment_counter(service.deployment_counter() + 1);
  d.set_id(absl::StrCat("d", service.deployment_counter()));
  d.set_task_definition(task_definition);
  d.set_status(Deployment::PRIMARY);
  d.set_rollout_state(Deployment::IN_PROGRESS);
  d.set_desired_count(service.desired_count());
  d.set_strategy(SettingsOf(service).blue_green ? "blueGreen" : "rolling");
  *d.mutable_created_at() = ToProtoTime(now);
  *d.mutable_updated_at() = ToProtoTime(now);
  d.set_rollback_of(rollback_of);
  if (d.strategy() == "blueGreen") {
    d.set_phase(Deployment::STARTING);
    *d.mutable_phase_started_at() = ToProtoTime(now);
  }
  // Newest first.
  auto* list = service.mutable_deployments();
  list->Add(std::move(d));
  for (int i = list->size() - 1; i > 0; --i) list->SwapElements(i, i - 1);
  // Keep the history short: drop the oldest INACTIVE ones beyond ten.
  for (int i = list->size() - 1; list->size() > 10 && i > 0; --i) {
    if (list->Get(i).status() == Deployment::INACTIVE) list->DeleteSubrange(i, 1);
  }
  return *list->Mutable(0);
}

Settings SettingsOf(const Service& service) {
  Settings s;
  const auto& c = service.deployment_configuration();
  if (c.has_minimum_healthy_percent()) s.min_percent = c.minimum_healthy_percent();
  if (c.has_maximum_percent()) s.max_percent = c.maximum_percent();
  if (c.circuit_breaker().has_enable()) s.breaker = c.circuit_breaker().enable();
  if (c.circuit_breaker().has_rollback()) s.rollback = c.circuit_breaker().rollback();
  s.threshold = c.circuit_breaker().threshold();
  s.blue_green = c.strategy() == "blueGreen";
  s.traffic = c.traffic();
  if (c.has_bake_time()) s.bake_time = FromProtoDuration(c.bake_time());
  if (c.has_settle_time()) s.settle_time = FromProtoDuration(c.settle_time());
  if (service.load_balancer().has_deregistration_delay()) {
    s.deregistration_delay = FromProtoDuration(service.load_balancer().deregistration_delay());
  }
  return s;
}

bool BelongsTo(const gantry::v1::Task& task, const Deployment& deployment) {
  if (!task.deployment_id().empty()) return task.deployment_id() == deployment.id();
  return task.task_definition() == deployment.task_definition();
}

bool HasHealthCheck(const gantry::v1::TaskDefinition& td) {
  for (const auto& c : td.containers()) {
    if ((!c.has_essential() || c.essential()) && c.has_health_check()) return true;
  }
  return false;
}

bool IsHealthy(const gantry::v1::Task& task, bool checked, absl::Duration settle_time,
               absl::Time now) {
  if (task.last_status() != gantry::v1::Task::RUNNING || task.has_deregistered_at()) return false;
  if (checked) return task.health() == gantry::v1::Task::HEALTHY;
  return task.has_started_at() && now - FromProtoTime(task.started_at()) >= settle_time;
}

}  // namespace gantry::deployments
