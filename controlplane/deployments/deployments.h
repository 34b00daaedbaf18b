#pragma once

// Helpers over a service's deployment list (stored in the Service record,
// newest first): finding the primary, starting a new deployment, and the
// effective deployment settings with their defaults. Pure.

#include <string>

#include "absl/time/time.h"
#include "gantry/v1/types.pb.h"

namespace gantry::deployments {

gantry::v1::Deployment* Primary(gantry::v1::Service& service);
const gantry::v1::Deployment* Primary(const gantry::v1::Service& service);
gantry::v1::Deployment* Find(gantry::v1::Service& service, const std::string& id);
// The newest COMPLETED deployment other than `except_id`, if any.
const gantry::v1::Deployment* LastCompleted(const gantry::v1::Service& service,
                                            const std::string& except_id);

// Adds a PRIMARY, IN_PROGRESS deployment of `task_definition` in front; the
// previous primary becomes ACTIVE. At most 10 deployments are kept (the
// oldest INACTIVE ones go).
gantry::v1::Deployment& Start(gantry::v1::Service& service, const std::string& task_definition,
                              absl::Time now, const std::string& rollback_of = "");

struct Settings {
  int min_percent = 100;
  int max_percent = 200;
  bool breaker = true;
  bool rollback = true;
  int threshold = 0;  // 0: the default formula
  bool blue_green = false;
  gantry::v1::DeploymentConfiguration::Traffic traffic;
  absl::Duration bake_time = absl::Seconds(30);
  absl::Duration settle_time = absl::Seconds(5);
  absl::Duration deregistration_delay = absl::Seconds(5);
};
Settings SettingsOf(const gantry::v1::Service& service);

// Whether the task belongs to the deployment (tasks from before deployments
// existed belong by task definition).
bool BelongsTo(const gantry::v1::Task& task, const gantry::v1::Deployment& deployment);
// Whether an essential container of the definition has a health check.
bool HasHealthCheck(const gantry::v1::TaskDefinition& td);

// Its alarms cannot be evaluated (autoscaling/alarms.h): the deployment
// starts no tasks, shifts no traffic and does not complete until they can.
inline bool HeldForAlarms(const gantry::v1::Deployment& d) {
  return d.has_alarms_unavailable_since() && !d.alarms_waived();
}
// Healthy for deployments and the load balancer: running, not leaving the
// load balancer, and either passing its health check or, without one,
// running for the settle time.
bool IsHealthy(const gantry::v1::Task& task, bool checked, absl::Duration settle_time,
               absl::Time now);

}  // namespace gantry::deployments
