#include "agent/health_targets.h"

namespace gantry::agent {

using gantry::v1::Task;
using gantry::v1::TaskAssignment;

std::vector<HealthTarget> HealthTargetsFor(const TrackedTasks& tasks,
                                           const std::string& node_address) {
  std::vector<HealthTarget> targets;
  for (const auto& [id, r] : tasks) {
    if (r.status != Task::RUNNING || !r.assignment) continue;
    const TaskAssignment& a = *r.assignment;
    for (int i = 0; i < a.containers_size() && i < static_cast<int>(r.containers.size()); ++i) {
      const auto& def = a.containers(i);
      const TrackedContainer& c = r.containers[i];
      if (!def.has_health_check() || !Running(c.state)) continue;
      HealthTarget t;
      t.container_id = c.id;
      t.service = a.service();
      t.task = r.task_id;
      t.container = c.name;
      t.check = def.health_check();
      t.address = node_address;
      const std::string port = t.check.has_http() ? t.check.http().port() : t.check.tcp().port();
      for (const auto& p : a.ports()) {
        if (p.name() == port) t.port = p.host_port();
      }
      t.started = r.started_at;
      t.carried = c.recorded_health;
      t.carried_output = c.recorded_health_output;
      targets.push_back(std::move(t));
    }
  }
  return targets;
}

}  // namespace gantry::agent
