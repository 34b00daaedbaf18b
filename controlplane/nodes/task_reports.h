#pragma once

// Records in the store what agents say about their tasks.
//
// Each TaskState in a report (or in a registration) moves the task's
// lastStatus, its containers' states and its health, and the transitions
// worth telling an operator become events: a task RUNNING or STOPPED (with
// the agent's reason), a change of the task's health with the probe's
// output, and a container's own health change when the task's health does
// not move with it. The rules:
//   - a report from a node the task is not on is ignored, and STOPPED is
//     final;
//   - a LOST task was replaced already, so only its end (STOPPED) is news;
//   - a task that stops while it should run has failed;
//   - a task the control plane stopped that is missing from a full report
//     at or after the revision that stopped it (or from a registration,
//     whatever its sequence) is STOPPED: the agent no longer has it.
//
// Ownership: `state`, `events` and `clock` are not owned.
//
// Thread safety: holds no state of its own; every method is thread-safe
// (each update is a compare-and-swap transaction, retried on conflict).

#include <string>

#include "common/clock.h"
#include "controlplane/events/event_log.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::nodes {

class TaskReports {
 public:
  TaskReports(state::ClusterState* state, events::EventLog* events, const Clock* clock);

  // A TaskStatusReport from `node`'s agent.
  void OnReport(const std::string& node, const gantry::v1::TaskStatusReport& report);
  // The tasks `node`'s agent listed when it registered: a full report.
  void OnRegistration(const std::string& node,
                      const google::protobuf::RepeatedPtrField<gantry::v1::TaskState>& tasks);

 private:
  void Apply(const std::string& node, const gantry::v1::TaskState& ts);
  void ReconcileMissing(const std::string& node, const gantry::v1::TaskStatusReport& report,
                        bool registration);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
};

}  // namespace gantry::nodes
