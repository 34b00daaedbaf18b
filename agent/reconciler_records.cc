// What the agent reports about each task, and what it keeps of it on disk
// so a restarted agent knows its tasks (reconciler.cc drives them).

#include <filesystem>
#include <fstream>

#include "agent/reconciler.h"
#include "common/log.h"
#include "common/time_util.h"

namespace gantry::agent {

namespace fs = std::filesystem;
using gantry::v1::Task;
using gantry::v1::TaskState;

TaskState Reconciler::StateOf(const Record& r) const {
  TaskState ts;
  ts.set_task_id(r.task_id);
  ts.set_status(r.status);
  ts.set_reason(r.reason);
  if (r.started_at != absl::UnixEpoch()) *ts.mutable_started_at() = ToProtoTime(r.started_at);
  if (r.stopped_at != absl::UnixEpoch()) *ts.mutable_stopped_at() = ToProtoTime(r.stopped_at);
  // Task health: the worst of the essential containers that are checked.
  Task::Health health = Task::UNKNOWN;
  bool any_checked = false;
  bool any_unknown = false;
  for (size_t i = 0; i < r.containers.size(); ++i) {
    const Container& c = r.containers[i];
    auto* cs = ts.add_containers();
    cs->set_name(c.name);
    const bool checked = r.assignment && static_cast<int>(i) < r.assignment->containers_size() &&
                         r.assignment->containers(static_cast<int>(i)).has_health_check();
    if (checked) {
      const auto state = health_->Get(c.id);
      cs->set_health(Running(c.state) ? state.health : Task::UNKNOWN);
      cs->set_health_output(state.output);
      if (c.essential) {
        any_checked = true;
        if (cs->health() == Task::UNHEALTHY) health = Task::UNHEALTHY;
        any_unknown |= cs->health() == Task::UNKNOWN;
      }
    }
    if (c.exited) {
      cs->set_status(Task::STOPPED);
      cs->set_exited(true);
      cs->set_exit_code(c.exit_code);
      cs->set_reason(c.reason);
    } else if (Running(c.state)) {
      cs->set_status(Task::RUNNING);
    } else {
      cs->set_status(r.status == Task::STOPPED ? Task::STOPPED : Task::PENDING);
      cs->set_reason(c.reason);
    }
    if (!c.image.empty()) cs->set_image_digest(images_->DigestOf(c.image));
  }
  if (any_checked && health != Task::UNHEALTHY)
    health = any_unknown ? Task::UNKNOWN : Task::HEALTHY;
  ts.set_health(health);
  return ts;
}

void Reconciler::Persist(const Record& r) const {
  if (!r.assignment) return;
  gantry::v1::LocalTaskRecord saved;
  *saved.mutable_assignment() = *r.assignment;
  *saved.mutable_state() = StateOf(r);
  saved.set_stop_reported(r.stop_reported);
  const fs::path dir = fs::path(options_.data_dir) / "tasks";
  const fs::path tmp = dir / (r.task_id + ".pb.tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !saved.SerializeToOstream(&out)) {
      spdlog::warn("cannot write task record {}", tmp.string());
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, dir / (r.task_id + ".pb"), ec);
  if (ec) spdlog::warn("cannot write task record for {}: {}", r.task_id, ec.message());
}

void Reconciler::Forget(const std::string& task_id) {
  records_.erase(task_id);
  if (observer_ != nullptr) observer_->TaskForgotten(task_id);
  std::error_code ec;
  fs::remove(fs::path(options_.data_dir) / "tasks" / (task_id + ".pb"), ec);
}

}  // namespace gantry::agent
