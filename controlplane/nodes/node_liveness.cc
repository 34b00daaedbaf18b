// Node liveness and status checks: the system check from heartbeats, the
// agent's instance and storage checks, marking silent nodes DOWN and their
// tasks LOST (rate-limited in a storm). node_manager.cc holds the streams.

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_util.h"
#include "controlplane/nodes/node_manager.h"
#include "controlplane/state/keys.h"

namespace gantry::nodes {

using gantry::v1::ControlMessage;
using gantry::v1::Node;
using gantry::v1::Task;

void NodeManager::RecordChecks(
    const std::string& node,
    const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks) {
  const auto current = state_->GetNode(node);
  if (!current) return;
  bool same = current->value.checks_size() == checks.size();
  for (int i = 0; same && i < checks.size(); ++i) {
    const auto& a = current->value.checks(i);
    same = a.name() == checks[i].name() && a.passed() == checks[i].passed() &&
           a.message() == checks[i].message();
  }
  if (same) return;
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

gantry::v1::NodeCheck NodeManager::SystemCheck(const Node& node) const {
  gantry::v1::NodeCheck check;
  check.set_name("system");
  const absl::Time heard = LastHeard(node.name());
  const bool connected = IsConnected(node.name());
  check.set_passed(node.status() != Node::DOWN && connected);
  if (check.passed()) {
    check.set_message("heartbeats arrive");
  } else if (heard == absl::UnixEpoch()) {
    check.set_message("not heard from since the control plane started");
  } else {
    check.set_message(
        absl::StrCat("no heartbeat for ",
                     absl::FormatDuration(absl::Trunc(clock_->Now() - heard, absl::Seconds(1)))));
  }
  if (heard != absl::UnixEpoch()) *check.mutable_since() = ToProtoTime(heard);
  return check;
}

void NodeManager::Tick() {
  std::vector<std::pair<std::string, std::shared_ptr<AgentConnection>>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& node : dirty_) {
      if (auto it = sessions_.find(node); it != sessions_.end()) {
        targets.push_back({node, it->second.connection});
      }
    }
    dirty_.clear();
  }
  for (const auto& [node, connection] : targets) {
    ControlMessage msg;
    *msg.mutable_desired() = BuildDesiredTasks(node);
    connection->Send(msg);
  }
  MarkDown();
  LoseTasks();
}

void NodeManager::LoseTasks() {
  const absl::Time now = clock_->Now();
  const auto nodes = state_->ListNodes();
  std::map<std::string, std::pair<int, int>> zones;  // zone -> (down, total)
  int down = 0;
  for (const auto& n : nodes) {
    auto& z = zones[n.zone()];
    z.second++;
    if (n.status() == Node::DOWN) {
      z.first++;
      down++;
    }
  }
  if (down == 0) {
    storm_announced_ = false;
    return;
  }
  // One lost node is never a storm, whatever the cluster's size: its tasks
  // are replaced at full speed. Several at once, a large share of the
  // cluster or of a zone, look like a partition.
  bool storm = down >= 2 && nodes.size() >= 3 && down > options_.storm_fraction * nodes.size();
  std::string storm_where = absl::StrCat(down, " of ", nodes.size(), " nodes");
  for (const auto& [zone, counts] : zones) {
    if (counts.first >= 2 && counts.second >= options_.storm_min_zone_nodes &&
        counts.first > options_.storm_zone_fraction * counts.second) {
      storm = true;
      storm_where = absl::StrCat(counts.first, " of ", counts.second, " nodes of zone ", zone);
    }
  }
  if (now - storm_window_start_ >= options_.storm_window) {
    storm_window_start_ = now;
    storm_used_ = 0;
  }
  bool deferred = false;
  for (const auto& n : nodes) {
    if (n.status() != Node::DOWN) continue;
    const absl::Time heard = LastHeard(n.name());
    const std::string reason = absl::StrCat(
        "Node ", n.name(), " is DOWN",
        heard == absl::UnixEpoch()
            ? ""
            : absl::StrCat(": no heartbeat for ",
                           absl::FormatDuration(absl::Trunc(now - heard, absl::Seconds(1)))));
    int lost = 0;
    for (const auto& t : state_->ListTasks({.node = n.name()})) {
      if (t.last_status() == Task::LOST) continue;
      if (storm && storm_used_ >= options_.storm_rate) {
        deferred = true;
        break;
      }
      bool marked = false;
      auto st = state_->UpdateTask(t.id(), [&](Task& task) {
        if (task.last_status() == Task::STOPPED || task.last_status() == Task::LOST) return false;
        task.set_last_status(Task::LOST);
        if (task.desired_status() == Task::RUNNING) {
          task.set_desired_status(Task::STOPPED);
          task.set_stopped_reason(reason);
        }
        *task.mutable_stopped_at() = ToProtoTime(now);
        marked = true;
        return true;
      });
      if (!st.ok()) {
        spdlog::warn("mark task {} LOST: {}", t.id(), st.message());
        continue;
      }
      if (marked) {
        lost++;
        storm_used_ += storm ? 1 : 0;
        events_->Record(t.service(), t.id(), n.name(),
                        absl::StrCat("task ", t.id().substr(0, 8), " is LOST: ", reason,
                                     "; replacing it elsewhere"));
      }
    }
    if (deferred) break;
  }
  if (deferred && !storm_announced_) {
    storm_announced_ = true;
    events_->Record(
        "", "", "",
        absl::StrCat(storm_where, " are DOWN at once: replacing their tasks at most ",
                     options_.storm_rate, " per ", absl::FormatDuration(options_.storm_window),
                     " so a partition does not move the whole cluster"));
  }
}

void NodeManager::MarkDown() {
  const absl::Time now = clock_->Now();
  for (const auto& n : state_->ListNodes()) {
    if (n.status() == Node::DOWN) continue;
    absl::Time heard = LastHeard(n.name());
    if (heard == absl::UnixEpoch()) heard = started_;
    if (now - heard < options_.heartbeat_grace) continue;
    bool marked = false;
    auto st = state_->UpdateNode(n.name(), [&](Node& node) {
      if (node.status() == Node::DOWN) return false;
      node.set_status(Node::DOWN);
      *node.mutable_last_heartbeat() = ToProtoTime(heard);
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

}  // namespace gantry::nodes
