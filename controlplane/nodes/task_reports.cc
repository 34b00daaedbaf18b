#include "controlplane/nodes/task_reports.h"

#include <google/protobuf/util/message_differencer.h>

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/cidr.h"
#include "common/log.h"
#include "common/time_util.h"

namespace gantry::nodes {

using gantry::v1::Task;
using gantry::v1::TaskState;

namespace {

std::string ShortId(const Task& t) { return t.id().substr(0, 8); }

// Moves the task's lastStatus as the agent reports; returns the event the
// move is worth, if any.
std::string ApplyStatus(Task& t, const TaskState& ts, const std::string& node, absl::Time now) {
  switch (ts.status()) {
    case Task::RUNNING:
      if (t.desired_status() == Task::STOPPED) {
        t.set_last_status(Task::STOPPING);
      } else if (t.last_status() != Task::RUNNING) {
        t.set_last_status(Task::RUNNING);
        *t.mutable_started_at() = ts.has_started_at() ? ts.started_at() : ToProtoTime(now);
        return absl::StrCat("task ", ShortId(t), " is RUNNING on ", node);
      }
      return "";
    case Task::STOPPING:
      t.set_last_status(Task::STOPPING);
      return "";
    case Task::STOPPED:
      t.set_last_status(Task::STOPPED);
      *t.mutable_stopped_at() = ts.has_stopped_at() ? ts.stopped_at() : ToProtoTime(now);
      if (t.desired_status() == Task::RUNNING) {
        t.set_desired_status(Task::STOPPED);
        t.set_stopped_reason(ts.reason().empty() ? "Task stopped" : ts.reason());
        t.set_failed(true);
      }
      return absl::StrCat("task ", ShortId(t), " STOPPED on ", node, ": ", t.stopped_reason());
    default:
      return "";
  }
}

void ApplyContainers(Task& t, const TaskState& ts) {
  for (const auto& cs : ts.containers()) {
    for (auto& mine : *t.mutable_containers()) {
      if (mine.name() != cs.name()) continue;
      mine.set_status(cs.status());
      mine.set_exited(cs.exited());
      mine.set_exit_code(cs.exit_code());
      mine.set_reason(cs.reason());
      // A pinned digest stays; otherwise the agent says what it runs.
      if (mine.image_digest().empty()) mine.set_image_digest(cs.image_digest());
      mine.set_health(cs.health());
      mine.set_health_output(cs.health_output());
    }
  }
}

// A container's own health transitions, news when the task's health does
// not change with them (a second container failing, one recovering while
// another still fails).
std::vector<std::string> ContainerHealthEvents(const Task& before, const Task& t) {
  std::vector<std::string> out;
  for (const auto& c : t.containers()) {
    for (const auto& was : before.containers()) {
      if (was.name() != c.name() || was.health() == c.health()) continue;
      if (c.health() == Task::HEALTH_UNSPECIFIED ||
          (was.health() == Task::HEALTH_UNSPECIFIED && c.health() == Task::UNKNOWN)) {
        continue;
      }
      out.push_back(absl::StrCat(
          "task ", ShortId(t), ": container ", c.name(), " is ", Task::Health_Name(c.health()),
          c.health_output().empty() ? "" : absl::StrCat(" (", c.health_output(), ")")));
    }
  }
  return out;
}

// Sets the task's health as reported; returns the event the change is
// worth, with the output of the probe that decided it.
std::string ApplyTaskHealth(Task& t, const Task& before, const TaskState& ts) {
  t.set_health(ts.health());
  std::string detail;
  for (const auto& cs : t.containers()) {
    if (cs.health() == Task::UNHEALTHY ||
        (ts.health() == Task::HEALTHY && !cs.health_output().empty())) {
      detail = absl::StrCat(cs.name(), ": ", cs.health_output());
      break;
    }
  }
  // A task starting with nothing known yet is not news; every change after
  // that is.
  if (before.health() == Task::HEALTH_UNSPECIFIED && ts.health() == Task::UNKNOWN) return "";
  return absl::StrCat("task ", ShortId(t), " is ", Task::Health_Name(ts.health()),
                      detail.empty() ? "" : absl::StrCat(" (", detail, ")"));
}

}  // namespace

TaskReports::TaskReports(state::ClusterState* state, events::EventLog* events, const Clock* clock)
    : state_(state), events_(events), clock_(clock) {}

void TaskReports::OnReport(const std::string& node, const gantry::v1::TaskStatusReport& report) {
  for (const auto& ts : report.tasks()) Apply(node, ts);
  if (report.full()) ReconcileMissing(node, report, /*registration=*/false);
}

void TaskReports::OnRegistration(const std::string& node,
                                 const google::protobuf::RepeatedPtrField<TaskState>& tasks) {
  for (const auto& ts : tasks) Apply(node, ts);
  gantry::v1::TaskStatusReport report;
  *report.mutable_tasks() = tasks;
  ReconcileMissing(node, report, /*registration=*/true);
}

void TaskReports::Apply(const std::string& node, const TaskState& ts) {
  std::string event;
  std::string health_event;
  std::vector<std::string> container_events;
  const absl::Time now = clock_->Now();
  // An address goes into other services' rules cluster-wide: only one in
  // the reporting node's own task subnet counts.
  bool address_ok = false;
  if (!ts.address().empty()) {
    const auto n = state_->GetNode(node);
    const auto subnet = n ? ParseIpv4Cidr(n->value.task_subnet()) : absl::NotFoundError(node);
    const auto ip = ParseIpv4(ts.address());
    address_ok = subnet.ok() && ip && subnet->Contains(*ip);
    if (!address_ok) {
      spdlog::warn("node {} reported address {} for task {}, outside its task subnet; ignored",
                   node, ts.address(), ts.task_id());
    }
  }
  auto st = state_->UpdateTask(ts.task_id(), [&](Task& t) {
    // The update may be retried: nothing of an earlier attempt counts.
    event.clear();
    health_event.clear();
    container_events.clear();
    if (t.node() != node || t.last_status() == Task::STOPPED) return false;
    // A LOST task was replaced already: only its end is news.
    if (t.last_status() == Task::LOST && ts.status() != Task::STOPPED) return false;
    const Task before = t;
    event = ApplyStatus(t, ts, node, now);
    ApplyContainers(t, ts);
    if (address_ok) t.set_address(ts.address());
    const bool task_health_changes =
        ts.health() != Task::HEALTH_UNSPECIFIED && ts.health() != t.health();
    if (t.last_status() == Task::RUNNING) {
      if (task_health_changes) {
        health_event = ApplyTaskHealth(t, before, ts);
      } else {
        container_events = ContainerHealthEvents(before, t);
      }
    }
    return !google::protobuf::util::MessageDifferencer::Equals(before, t);
  });
  if (!st.ok() && !absl::IsNotFound(st)) {
    spdlog::warn("node {}: record state of task {}: {}", node, ts.task_id(), st.message());
    return;
  }
  std::vector<const std::string*> messages = {&event, &health_event};
  for (const auto& c : container_events) messages.push_back(&c);
  for (const auto* e : messages) {
    if (e->empty()) continue;
    auto t = state_->GetTask(ts.task_id());
    events_->Record(t ? t->value.service() : "", ts.task_id(), node, *e);
  }
}

void TaskReports::ReconcileMissing(const std::string& node,
                                   const gantry::v1::TaskStatusReport& report, bool registration) {
  std::set<std::string> reported;
  for (const auto& ts : report.tasks()) reported.insert(ts.task_id());
  const auto now = ToProtoTime(clock_->Now());
  for (const auto& t : state_->ListTasks({.node = node, .include_stopped = true})) {
    if (t.last_status() == Task::STOPPED) continue;
    if (reported.contains(t.id()) || t.desired_status() != Task::STOPPED) continue;
    auto current = state_->GetTask(t.id());
    if (!current || (!registration && current->mod_revision > report.sequence())) continue;
    bool changed = false;
    auto st = state_->UpdateTask(t.id(), [&](Task& task) {
      changed = false;  // the update may be retried
      if (task.last_status() == Task::STOPPED) return false;
      task.set_last_status(Task::STOPPED);
      *task.mutable_stopped_at() = now;
      changed = true;
      return true;
    });
    if (st.ok() && changed) {
      events_->Record(
          t.service(), t.id(), node,
          absl::StrCat("task ", ShortId(t), " STOPPED on ", node, ": ", t.stopped_reason()));
    }
  }
}

}  // namespace gantry::nodes
