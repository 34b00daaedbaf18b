#include "controlplane/nodes/node_manager.h"

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/quantity.h"
#include "common/spec/validation.h"
#include "common/time_util.h"
#include "controlplane/state/keys.h"

namespace gantry::nodes {

using gantry::v1::ControlMessage;
using gantry::v1::Node;
using gantry::v1::Task;

namespace {

absl::Status ValidateRegistration(const gantry::v1::RegisterRequest& r) {
  if (r.node_name().empty()) return absl::InvalidArgumentError("register: node name is required");
  if (r.zone().empty()) return absl::InvalidArgumentError("register: zone is required");
  if (r.capacity().cpu() <= 0 || r.capacity().memory() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("register ", r.node_name(), ": capacity must be positive, got cpu ",
                     r.capacity().cpu(), "m, memory ", r.capacity().memory()));
  }
  if (r.port_range_start() == 0 || r.port_range_end() < r.port_range_start() ||
      r.port_range_end() > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("register ", r.node_name(),
                                                   ": invalid dynamic port range ",
                                                   r.port_range_start(), "-", r.port_range_end()));
  }
  return absl::OkStatus();
}

}  // namespace

NodeManager::NodeManager(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                         Options options)
    : state_(state), events_(events), clock_(clock), options_(options), started_(clock->Now()) {}

NodeManager::~NodeManager() { Stop(); }

void NodeManager::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void NodeManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NodeManager::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || !dirty_.empty(); });
    if (stop_) break;
    lock.unlock();
    Tick();
    lock.lock();
  }
}

absl::StatusOr<std::string> NodeManager::Register(std::shared_ptr<AgentConnection> connection,
                                                  const gantry::v1::RegisterRequest& r) {
  if (auto st = ValidateRegistration(r); !st.ok()) return st;
  const std::string& name = r.node_name();
  const absl::Time now = clock_->Now();
  Node::Status previous = Node::STATUS_UNSPECIFIED;
  for (int attempt = 0;; ++attempt) {
    const auto existing = state_->GetNode(name);
    Node n = existing ? existing->value : Node();
    previous = n.status();
    n.set_name(name);
    n.set_zone(r.zone());
    *n.mutable_attributes() = r.attributes();
    n.set_address(r.address());
    n.set_metrics_address(r.metrics_address());
    *n.mutable_capacity() = r.capacity();
    n.set_port_range_start(r.port_range_start());
    n.set_port_range_end(r.port_range_end());
    n.set_agent_version(r.agent_version());
    n.set_status(n.drain_requested() || n.status() == Node::DRAINING ? Node::DRAINING
                                                                     : Node::ACTIVE);
    *n.mutable_registered_at() = ToProtoTime(now);
    *n.mutable_last_heartbeat() = ToProtoTime(now);
    n.clear_allocated();
    n.clear_running_tasks();
    n.clear_connected();
    store::TxnRequest txn;
    txn.compares.push_back({state::NodeKey(name), existing ? existing->mod_revision : 0});
    txn.ops.push_back(store::Op::Put(state::NodeKey(name), n.SerializeAsString()));
    auto result = state_->Commit(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) break;
    if (attempt > 10) return absl::AbortedError("register: too many concurrent node updates");
  }

  std::shared_ptr<AgentConnection> replaced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& session = sessions_[name];
    replaced = std::move(session.connection);
    session = Session{connection, now};
    last_heard_[name] = now;
  }
  if (replaced && replaced != connection) {
    spdlog::warn("node {}: a new agent connection replaces the previous one", name);
    replaced->Close();
  }

  ControlMessage registered;
  registered.mutable_registered()->set_node_name(name);
  *registered.mutable_registered()->mutable_heartbeat_interval() =
      ToProtoDuration(options_.heartbeat_interval);
  connection->Send(registered);

  for (const auto& ts : r.tasks()) ApplyTaskState(name, ts);
  gantry::v1::TaskStatusReport report;
  *report.mutable_tasks() = r.tasks();
  ReconcileMissing(name, report, /*registration=*/true);

  if (previous == Node::STATUS_UNSPECIFIED) {
    events_->Record("", "", name,
                    absl::StrCat("node ", name, " registered in zone ", r.zone(), " with ",
                                 FormatCpu(r.capacity().cpu()), " cpu, ",
                                 FormatMemory(r.capacity().memory()), " memory"));
  } else if (previous == Node::DOWN) {
    events_->Record(
        "", "", name,
        absl::StrCat("node ", name, " is back and ",
                     state_->GetNode(name) && state_->GetNode(name)->value.drain_requested()
                         ? "DRAINING (it was drained)"
                         : "ACTIVE"));
  } else {
    spdlog::info("node {} reconnected", name);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_.insert(name);
  }
  cv_.notify_all();
  return name;
}

void NodeManager::OnHeartbeat(
    const std::string& node,
    const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks) {
  if (!checks.empty()) RecordChecks(node, checks);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = clock_->Now();
    last_heard_[node] = now;
    if (auto it = sessions_.find(node); it != sessions_.end()) it->second.last_heard = now;
  }
  // A node marked DOWN while its stream stalled is back once heard again.
  auto n = state_->GetNode(node);
  if (!n || n->value.status() != Node::DOWN) return;
  bool revived = false;
  Node::Status now_status = Node::ACTIVE;
  auto st = state_->UpdateNode(node, [&](Node& rec) {
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

void NodeManager::OnStatus(const std::string& node, const gantry::v1::TaskStatusReport& report) {
  OnHeartbeat(node, {});
  for (const auto& ts : report.tasks()) ApplyTaskState(node, ts);
  if (report.full()) ReconcileMissing(node, report, /*registration=*/false);
}

void NodeManager::ApplyTaskState(const std::string& node, const gantry::v1::TaskState& ts) {
  std::string event;
  std::string health_event;
  std::vector<std::string> container_events;
  const absl::Time now = clock_->Now();
  auto st = state_->UpdateTask(ts.task_id(), [&](Task& t) {
    event.clear();
    health_event.clear();
    if (t.node() != node || t.last_status() == Task::STOPPED) return false;
    // A LOST task was replaced already: only its end is news.
    if (t.last_status() == Task::LOST && ts.status() != Task::STOPPED) return false;
    const Task before = t;
    switch (ts.status()) {
      case Task::RUNNING:
        if (t.desired_status() == Task::STOPPED) {
          t.set_last_status(Task::STOPPING);
        } else if (t.last_status() != Task::RUNNING) {
          t.set_last_status(Task::RUNNING);
          *t.mutable_started_at() = ts.has_started_at() ? ts.started_at() : ToProtoTime(now);
          event = absl::StrCat("task ", t.id().substr(0, 8), " is RUNNING on ", node);
        }
        break;
      case Task::STOPPING:
        t.set_last_status(Task::STOPPING);
        break;
      case Task::STOPPED:
        t.set_last_status(Task::STOPPED);
        *t.mutable_stopped_at() = ts.has_stopped_at() ? ts.stopped_at() : ToProtoTime(now);
        if (t.desired_status() == Task::RUNNING) {
          t.set_desired_status(Task::STOPPED);
          t.set_stopped_reason(ts.reason().empty() ? "Task stopped" : ts.reason());
          t.set_failed(true);
        }
        event = absl::StrCat("task ", t.id().substr(0, 8), " STOPPED on ", node, ": ",
                             t.stopped_reason());
        break;
      default:
        break;
    }
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
    // A container's own transition is news when the task's health does not
    // change with it (a second container failing, one recovering while
    // another still fails).
    const bool task_health_changes =
        ts.health() != Task::HEALTH_UNSPECIFIED && ts.health() != t.health();
    container_events.clear();
    if (t.last_status() == Task::RUNNING && !task_health_changes) {
      for (const auto& c : t.containers()) {
        for (const auto& was : before.containers()) {
          if (was.name() != c.name() || was.health() == c.health()) continue;
          if (c.health() == Task::HEALTH_UNSPECIFIED ||
              (was.health() == Task::HEALTH_UNSPECIFIED && c.health() == Task::UNKNOWN)) {
            continue;
          }
          container_events.push_back(absl::StrCat(
              "task ", t.id().substr(0, 8), ": container ", c.name(), " is ",
              Task::Health_Name(c.health()),
              c.health_output().empty() ? "" : absl::StrCat(" (", c.health_output(), ")")));
        }
      }
    }
    if (t.last_status() == Task::RUNNING && task_health_changes) {
      t.set_health(ts.health());
      std::string detail;
      for (const auto& cs : t.containers()) {
        if (cs.health() == Task::UNHEALTHY ||
            (ts.health() == Task::HEALTHY && !cs.health_output().empty())) {
          detail = absl::StrCat(cs.name(), ": ", cs.health_output());
          break;
        }
      }
      // A task starting with nothing known yet is not news; every change
      // after that is.
      const bool first_unknown =
          before.health() == Task::HEALTH_UNSPECIFIED && ts.health() == Task::UNKNOWN;
      if (!first_unknown) {
        health_event =
            absl::StrCat("task ", t.id().substr(0, 8), " is ", Task::Health_Name(ts.health()),
                         detail.empty() ? "" : absl::StrCat(" (", detail, ")"));
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

void NodeManager::ReconcileMissing(const std::string& node,
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
      if (task.last_status() == Task::STOPPED) return false;
      task.set_last_status(Task::STOPPED);
      *task.mutable_stopped_at() = now;
      changed = true;
      return true;
    });
    if (st.ok() && changed) {
      events_->Record(t.service(), t.id(), node,
                      absl::StrCat("task ", t.id().substr(0, 8), " STOPPED on ", node, ": ",
                                   t.stopped_reason()));
    }
  }
}

void NodeManager::OnLogData(const std::string& node, const gantry::v1::LogData& data) {
  LogSink sink;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = logs_.find(data.request_id());
    if (it == logs_.end() || it->second.node != node) return;
    sink = it->second.sink;
    if (data.eof()) logs_.erase(it);
  }
  sink(data);
}

void NodeManager::OnDisconnect(const std::string& node, const AgentConnection* connection) {
  std::vector<LogSink> orphaned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(node);
    if (it == sessions_.end() || it->second.connection.get() != connection) return;
    sessions_.erase(it);
    last_heard_[node] = clock_->Now();
    for (auto l = logs_.begin(); l != logs_.end();) {
      if (l->second.node == node) {
        orphaned.push_back(std::move(l->second.sink));
        l = logs_.erase(l);
      } else {
        ++l;
      }
    }
  }
  spdlog::info("node {} disconnected", node);
  gantry::v1::LogData eof;
  eof.set_eof(true);
  eof.set_error(absl::StrCat("the agent on ", node, " disconnected"));
  for (const auto& sink : orphaned) sink(eof);
}

absl::StatusOr<int64_t> NodeManager::OpenLogs(const Task& task,
                                              const gantry::v1::GetLogsRequest& request,
                                              LogSink sink) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(task.node());
  if (it == sessions_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the agent on node ", task.node(), " that ran task ", task.id().substr(0, 8),
                     " is not connected; its logs are readable again once it reconnects"));
  }
  const int64_t id = next_log_id_++;
  logs_[id] = LogStream{task.node(), std::move(sink)};
  ControlMessage msg;
  auto* lr = msg.mutable_log_request();
  lr->set_request_id(id);
  lr->set_task_id(task.id());
  lr->set_container(request.container());
  lr->set_tail_lines(request.tail_lines());
  lr->set_follow(request.follow());
  it->second.connection->Send(msg);
  return id;
}

void NodeManager::CloseLogs(int64_t request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = logs_.find(request_id);
  if (it == logs_.end()) return;
  if (auto s = sessions_.find(it->second.node); s != sessions_.end()) {
    ControlMessage msg;
    msg.mutable_log_cancel()->set_request_id(request_id);
    s->second.connection->Send(msg);
  }
  logs_.erase(it);
}

void NodeManager::OnImages(const std::string& node, const gantry::v1::ImageReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& images = images_[node];
  images.assign(report.images().begin(), report.images().end());
  for (auto& i : images) i.set_node(node);
}

std::vector<gantry::v1::NodeImage> NodeManager::Images(const std::string& node) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<gantry::v1::NodeImage> out;
  for (const auto& [name, images] : images_) {
    if (node.empty() || name == node) out.insert(out.end(), images.begin(), images.end());
  }
  return out;
}

bool NodeManager::IsConnected(const std::string& node) const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.contains(node);
}

absl::Time NodeManager::LastHeard(const std::string& node) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = last_heard_.find(node);
  return it == last_heard_.end() ? absl::UnixEpoch() : it->second;
}

void NodeManager::OnStateChange(const state::Change& change) {
  if (change.nodes.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_.insert(change.nodes.begin(), change.nodes.end());
  }
  cv_.notify_all();
}

gantry::v1::DesiredTasks NodeManager::BuildDesiredTasks(const std::string& node) const {
  gantry::v1::DesiredTasks desired;
  // Read the revision first: the set below reflects at least this revision.
  desired.set_sequence(state_->store()->Revision());
  for (const auto& t : state_->ListTasks({.node = node})) {
    if (t.desired_status() != Task::RUNNING) continue;
    auto td = state_->ResolveTaskDefinition(t.task_definition());
    if (!td) {
      spdlog::error("task {} names missing task definition {}", t.id(), t.task_definition());
      continue;
    }
    auto* a = desired.add_tasks();
    a->set_task_id(t.id());
    a->set_service(t.service());
    a->set_task_definition(t.task_definition());
    *a->mutable_containers() = td->containers();
    *a->mutable_ports() = t.ports();
    for (const auto& cs : t.containers()) {
      if (!cs.image_digest().empty()) (*a->mutable_image_digests())[cs.name()] = cs.image_digest();
    }
  }
  return desired;
}

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
