#include "agent/task_records.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_util.h"

namespace gantry::agent {

namespace fs = std::filesystem;

TaskRecords::TaskRecords(const std::string& data_dir)
    : dir_((fs::path(data_dir) / "tasks").string()) {}

std::string TaskRecords::PathOf(const std::string& task_id) const {
  return (fs::path(dir_) / (task_id + ".pb")).string();
}

absl::StatusOr<std::vector<TrackedTask>> TaskRecords::Load() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data-dir: cannot create ", dir_, ": ", ec.message()));
  }
  std::vector<TrackedTask> out;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".pb") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    gantry::v1::LocalTaskRecord saved;
    if (!saved.ParseFromIstream(&in)) {
      spdlog::warn("ignoring unreadable task record {}", entry.path().string());
      continue;
    }
    out.push_back(FromRecord(saved));
  }
  return out;
}

TrackedTask TaskRecords::FromRecord(const gantry::v1::LocalTaskRecord& saved) {
  TrackedTask r;
  r.task_id = saved.state().task_id();
  r.assignment = saved.assignment();
  r.containers = ContainersFor(saved.assignment());
  r.status = saved.state().status();
  r.reason = saved.state().reason();
  r.started_at = FromProtoTime(saved.state().started_at());
  r.stopped_at = FromProtoTime(saved.state().stopped_at());
  r.stop_reported = saved.stop_reported();
  for (auto& c : r.containers) {
    for (const auto& cs : saved.state().containers()) {
      if (cs.name() != c.name) continue;
      c.exited = cs.exited();
      c.exit_code = cs.exit_code();
      c.reason = cs.reason();
      c.recorded_health = cs.health();
      c.recorded_health_output = cs.health_output();
    }
  }
  return r;
}

void TaskRecords::Save(const TrackedTask& task, const gantry::v1::TaskState& state) const {
  if (!task.assignment) return;
  gantry::v1::LocalTaskRecord saved;
  *saved.mutable_assignment() = *task.assignment;
  *saved.mutable_state() = state;
  saved.set_stop_reported(task.stop_reported);
  const std::string tmp = PathOf(task.task_id) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !saved.SerializeToOstream(&out)) {
      spdlog::warn("cannot write task record {}", tmp);
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, PathOf(task.task_id), ec);
  if (ec) spdlog::warn("cannot write task record for {}: {}", task.task_id, ec.message());
}

void TaskRecords::Remove(const std::string& task_id) const {
  std::error_code ec;
  fs::remove(PathOf(task_id), ec);
}

}  // namespace gantry::agent
