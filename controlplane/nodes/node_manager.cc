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
  Node::Status now_status = Node::ACTIVE;
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
    now_status = n.status();
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
    events_->Record("", "", name,
                    absl::StrCat("node ", name, " is back and ", Node::Status_Name(now_status),
                                 now_status == Node::DRAINING ? " (it was drained)" : ""));
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

}  // namespace gantry::nodes
