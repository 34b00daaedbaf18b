#pragma once

// The agent's memory of its tasks across restarts. Each task the control
// plane assigned is kept in <data_dir>/tasks/<task id>.pb as a
// LocalTaskRecord (the assignment, the last reported state, whether its stop
// was reported), so a restarted agent knows which of its tasks already
// stopped and never starts one of them again. A write goes to a temporary
// file first and is renamed over the record, so a crash leaves the old or
// the new record, never half of one; an unreadable record is skipped with a
// warning.
//
// The Reconciler owns one and calls it from its Tick() thread; the class
// holds no state but the directory, so concurrent calls for different tasks
// are safe.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/tracked_task.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

class TaskRecords {
 public:
  explicit TaskRecords(const std::string& data_dir);

  // Creates the directory if needed and reads every record back: the task
  // with its containers as the assignment defines them (not yet observed),
  // status, reason, times and each container's exit.
  absl::StatusOr<std::vector<TrackedTask>> Load() const;
  // Writes `task`'s record with `state`; a task without an assignment (known
  // only from container labels) has none. Failures are logged: the record
  // is written again with the task's next change.
  void Save(const TrackedTask& task, const gantry::v1::TaskState& state) const;
  // Deletes the record of a task the agent forgets.
  void Remove(const std::string& task_id) const;

  std::string PathOf(const std::string& task_id) const;

 private:
  static TrackedTask FromRecord(const gantry::v1::LocalTaskRecord& saved);

  const std::string dir_;
};

}  // namespace gantry::agent
