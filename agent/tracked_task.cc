#include "agent/tracked_task.h"

#include "absl/strings/str_cat.h"
#include "common/registry/reference.h"
#include "common/time_util.h"

namespace gantry::agent {

using gantry::v1::Task;
using gantry::v1::TaskAssignment;
using gantry::v1::TaskState;

std::vector<TrackedContainer> ContainersFor(const TaskAssignment& a) {
  std::vector<TrackedContainer> out;
  for (const auto& def : a.containers()) {
    TrackedContainer c;
    c.name = def.name();
    c.id = absl::StrCat(a.task_id(), "-", def.name());
    c.image = def.image();
    if (auto ref = registry::ParseReference(def.image()); ref.ok()) {
      auto pinned = a.image_digests().find(def.name());
      c.image = pinned == a.image_digests().end() ? ref->String()
                                                  : ref->WithDigest(pinned->second).String();
    }
    c.essential = !def.has_essential() || def.essential();
    if (def.has_stop_timeout()) c.stop_timeout = FromProtoDuration(def.stop_timeout());
    out.push_back(std::move(c));
  }
  return out;
}

bool AnyRunning(const TrackedTask& task) {
  for (const auto& c : task.containers) {
    if (Running(c.state)) return true;
  }
  return false;
}

namespace {

void SetContainerStatus(const TrackedTask& task, const TrackedContainer& c,
                        gantry::v1::ContainerStatus& cs) {
  if (c.exited) {
    cs.set_status(Task::STOPPED);
    cs.set_exited(true);
    cs.set_exit_code(c.exit_code);
    cs.set_reason(c.reason);
  } else if (Running(c.state)) {
    cs.set_status(Task::RUNNING);
  } else {
    cs.set_status(task.status == Task::STOPPED ? Task::STOPPED : Task::PENDING);
    cs.set_reason(c.reason);
  }
}

}  // namespace

TaskState ReportedState(const TrackedTask& task, const HealthMonitor& health,
                        ImageManager& images) {
  TaskState ts;
  ts.set_task_id(task.task_id);
  ts.set_status(task.status);
  ts.set_reason(task.reason);
  ts.set_address(task.address);
  if (task.started_at != absl::UnixEpoch()) *ts.mutable_started_at() = ToProtoTime(task.started_at);
  if (task.stopped_at != absl::UnixEpoch()) *ts.mutable_stopped_at() = ToProtoTime(task.stopped_at);
  // Task health: the worst of the essential containers that are checked.
  Task::Health worst = Task::UNKNOWN;
  bool any_checked = false;
  bool any_unknown = false;
  const TaskAssignment* a = task.assignment ? &*task.assignment : nullptr;
  for (size_t i = 0; i < task.containers.size(); ++i) {
    const TrackedContainer& c = task.containers[i];
    auto* cs = ts.add_containers();
    cs->set_name(c.name);
    const int index = static_cast<int>(i);
    if (a != nullptr && index < a->containers_size() && a->containers(index).has_health_check()) {
      auto state = health.Get(c.id);
      // Not probed yet since the agent started: what it last knew.
      if (!state.tracked) state = {c.recorded_health, c.recorded_health_output, false};
      cs->set_health(Running(c.state) ? state.health : Task::UNKNOWN);
      cs->set_health_output(state.output);
      if (c.essential) {
        any_checked = true;
        if (cs->health() == Task::UNHEALTHY) worst = Task::UNHEALTHY;
        any_unknown |= cs->health() == Task::UNKNOWN;
      }
    }
    SetContainerStatus(task, c, *cs);
    if (!c.image.empty()) cs->set_image_digest(images.DigestOf(c.image));
  }
  if (any_checked && worst != Task::UNHEALTHY) worst = any_unknown ? Task::UNKNOWN : Task::HEALTHY;
  ts.set_health(worst);
  return ts;
}

}  // namespace gantry::agent
