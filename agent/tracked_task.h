#pragma once

// What the agent knows of one task: the control plane's assignment (absent
// for a task known only from its containers' labels), its status, and each
// container as last observed in the runtime plus what the agent did to it.
// Plain data: the Reconciler owns the map of tracked tasks and changes it on
// its Tick() thread; TaskRecords persists them, NodeUpkeep and
// HealthTargetsFor() read them between passes on that same thread.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/health/health_monitor.h"
#include "agent/images/image_manager.h"
#include "agent/runtime/container_runtime.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

struct TrackedContainer {
  std::string name;
  std::string id;     // runtime id: "<task id>-<name>"
  std::string image;  // normalised reference it runs (pinned: name@digest)
  bool essential = true;
  absl::Duration stop_timeout = absl::Seconds(30);
  // As last observed.
  bool present = false;
  ContainerState state = ContainerState::kNoTask;
  bool exited = false;
  int exit_code = 0;
  std::string reason;
  // Its health as the agent's record last had it: what a restarted agent
  // reports until the first probe answers.
  gantry::v1::Task::Health recorded_health = gantry::v1::Task::UNKNOWN;
  std::string recorded_health_output;
  // What the agent did.
  bool exit_observed = false;  // told the observer
  bool term_sent = false;
  bool kill_sent = false;
  absl::Time deadline;  // SIGKILL after this (Clock::Monotonic), once SIGTERM was sent
};

struct TrackedTask {
  std::string task_id;
  std::optional<gantry::v1::TaskAssignment> assignment;
  gantry::v1::Task::Status status = gantry::v1::Task::PENDING;
  std::vector<TrackedContainer> containers;
  std::string reason;
  // Its own address (networkMode task), once its network is set up.
  std::string address;
  absl::Time started_at = absl::UnixEpoch();
  absl::Time stopped_at = absl::UnixEpoch();
  bool wanted = false;         // in the newest desired set
  bool stop_reported = false;  // STOPPED was sent to the control plane
  std::string last_sent;       // serialized TaskState last sent
};

using TrackedTasks = std::map<std::string, TrackedTask>;

// The containers an assignment defines, not yet observed: runtime id, the
// image pinned to the assignment's digest when it has one, essential (the
// default) and stop timeout.
std::vector<TrackedContainer> ContainersFor(const gantry::v1::TaskAssignment& assignment);

bool AnyRunning(const TrackedTask& task);

// The state reported to the control plane (and persisted): status, times,
// each container's state, health and image digest, and the task's health,
// the worst of its checked essential containers.
gantry::v1::TaskState ReportedState(const TrackedTask& task, const HealthMonitor& health,
                                    ImageManager& images);

}  // namespace gantry::agent
