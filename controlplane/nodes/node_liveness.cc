#include "controlplane/nodes/node_liveness.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_util.h"

namespace gantry::nodes {

using gantry::v1::Node;
using gantry::v1::Task;

namespace {

bool SameChecks(const Node& node,
                const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks) {
  if (node.checks_size() != checks.size()) return false;
  for (int i = 0; i < checks.size(); ++i) {
    const auto& a = node.checks(i);
    if (a.name() != checks[i].name() || a.passed() != checks[i].passed() ||
        a.message() != checks[i].message()) {
      return false;
    }
  }
  return true;
}

}  // namespace

NodeLiveness::NodeLiveness(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                           AgentSessions* sessions, Options options)
    : state_(state),
      events_(events),
      clock_(clock),
      sessions_(sessions),
      options_(options),
      started_(clock->Monotonic()),
      storm_(options.storm) {}

void NodeLiveness::OnHeartbeat(
    const std::string& node,
    const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks) {
  if (!checks.empty()) RecordChecks(node, checks);
  sessions_->Heard(node, clock_->Monotonic());
  Revive(node);
}

void NodeLiveness::Revive(const std::string& node) {
  // A node marked DOWN while its stream stalled is back once heard again.
  auto n = state_->GetNode(node);
  if (!n || n->value.status() != Node::DOWN) return;
  bool revived = false;
  Node::Status now_status = Node::ACTIVE;
  auto st = state_->UpdateNode(node, [&](Node& rec) {
    revived = false;  // the update may be retried
    if (rec.status() != Node::DOWN) return false;
    now_status = rec.drain_requested() ? Node::DRAINING : Node::ACTIVE;
    rec.set_status(now_status);
    revived = true;
    return true;
  });
  if (st.ok() && revived) {
    events_->Record("", "", node,
                    absl::StrCat("node ", node, " is back and ", Node::Status_Name(now_status)));
  }
}

void NodeLiveness::RecordChecks(
    const std::string& node,
    const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks) {
  const auto current = state_->GetNode(node);
  if (!current || SameChecks(current->value, checks)) return;
  const auto now = ToProtoTime(clock_->Now());
  std::vector<std::string> changes;
  auto st = state_->UpdateNode(node, [&](Node& n) {
    changes.clear();
    std::map<std::string, gantry::v1::NodeCheck> before;
    for (const auto& c : n.checks()) before[c.name()] = c;
    n.clear_checks();
    for (const auto& c : checks) {
      auto* out = n.add_checks();
      *out = c;
      auto it = before.find(c.name());
      if (it != before.end() && it->second.passed() == c.passed()) {
        *out->mutable_since() = it->second.since();
      } else {
        *out->mutable_since() = now;
        changes.push_back(c.passed() ? absl::StrCat(c.name(), " check passes again")
                                     : absl::StrCat("failing ", c.name(), " check: ", c.message(),
                                                    "; no new tasks go there"));
      }
    }
    return true;
  });
  if (!st.ok()) {
    spdlog::warn("node {}: record status checks: {}", node, st.message());
    return;
  }
  for (const auto& c : changes) events_->Record("", "", node, absl::StrCat("node ", node, ": ", c));
}

gantry::v1::NodeCheck NodeLiveness::SystemCheck(const Node& node) const {
  gantry::v1::NodeCheck check;
  check.set_name("system");
  const absl::Time heard = sessions_->LastHeard(node.name());
  const bool connected = sessions_->IsConnected(node.name());
  check.set_passed(node.status() != Node::DOWN && connected);
  if (check.passed()) {
    check.set_message("heartbeats arrive");
  } else if (heard == absl::UnixEpoch()) {
    check.set_message("not heard from since the control plane started");
  } else {
    check.set_message(absl::StrCat(
        "no heartbeat for ",
        absl::FormatDuration(absl::Trunc(clock_->Monotonic() - heard, absl::Seconds(1)))));
  }
  if (heard != absl::UnixEpoch()) *check.mutable_since() = ToProtoTime(clock_->WallTimeOf(heard));
  return check;
}

void NodeLiveness::CountFrom(absl::Time t) {
  MutexLock lock(&mu_);
  started_ = t;
}

void NodeLiveness::Check() {
  MutexLock lock(&mu_);
  MarkDown();
  LoseTasks(clock_->Monotonic());
}

void NodeLiveness::MarkDown() {
  const absl::Time now = clock_->Monotonic();
  for (const auto& n : state_->ListNodes()) {
    if (n.status() == Node::DOWN) continue;
    absl::Time heard = sessions_->LastHeard(n.name());
    if (heard == absl::UnixEpoch()) heard = started_;
    if (now - heard < options_.heartbeat_grace) continue;
    bool marked = false;
    auto st = state_->UpdateNode(n.name(), [&](Node& node) {
      marked = false;  // the update may be retried
      if (node.status() == Node::DOWN) return false;
      node.set_status(Node::DOWN);
      *node.mutable_last_heartbeat() = ToProtoTime(clock_->WallTimeOf(heard));
      marked = true;
      return true;
    });
    if (!st.ok()) {
      spdlog::warn("mark node {} DOWN: {}", n.name(), st.message());
    } else if (marked) {
      events_->Record("", "", n.name(),
                      absl::StrCat("node ", n.name(), " is DOWN: no heartbeat for ",
                                   absl::FormatDuration(now - heard)));
    }
  }
}

void NodeLiveness::LoseTasks(absl::Time now) {
  const auto nodes = state_->ListNodes();
  if (storm_.Begin(nodes, now) == 0) return;
  for (const auto& n : nodes) {
    if (n.status() != Node::DOWN) continue;
    if (!LoseTasksOf(n, now)) {
      if (auto message = storm_.Deferred(); !message.empty()) {
        events_->Record("", "", "", message);
      }
      return;
    }
  }
}

bool NodeLiveness::LoseTasksOf(const Node& n, absl::Time now) {
  const std::string reason = DownReason(n.name(), now);
  for (const auto& t : state_->ListTasks({.node = n.name()})) {
    if (t.last_status() == Task::LOST) continue;
    if (!storm_.MayLose()) return false;
    bool marked = false;
    auto st = state_->UpdateTask(t.id(), [&](Task& task) {
      marked = false;  // the update may be retried
      if (task.last_status() == Task::STOPPED || task.last_status() == Task::LOST) return false;
      task.set_last_status(Task::LOST);
      if (task.desired_status() == Task::RUNNING) {
        task.set_desired_status(Task::STOPPED);
        task.set_stopped_reason(reason);
      }
      *task.mutable_stopped_at() = ToProtoTime(clock_->Now());
      marked = true;
      return true;
    });
    if (!st.ok()) {
      spdlog::warn("mark task {} LOST: {}", t.id(), st.message());
      continue;
    }
    if (marked) {
      storm_.Lost();
      events_->Record(t.service(), t.id(), n.name(),
                      absl::StrCat("task ", t.id().substr(0, 8), " is LOST: ", reason,
                                   "; replacing it elsewhere"));
    }
  }
  return true;
}

std::string NodeLiveness::DownReason(const std::string& node, absl::Time now) const {
  const absl::Time heard = sessions_->LastHeard(node);
  return absl::StrCat(
      "Node ", node, " is DOWN",
      heard == absl::UnixEpoch()
          ? ""
          : absl::StrCat(": no heartbeat for ",
                         absl::FormatDuration(absl::Trunc(now - heard, absl::Seconds(1)))));
}

}  // namespace gantry::nodes
