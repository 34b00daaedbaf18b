#include "controlplane/nodes/node_manager.h"

#include <utility>

#include "common/log.h"
#include "common/time_util.h"

namespace gantry::nodes {

namespace {

NodeLiveness::Options LivenessOptions(const NodeManager::Options& o) {
  NodeLiveness::Options out;
  out.heartbeat_grace = o.heartbeat_grace;
  out.storm.fraction = o.storm_fraction;
  out.storm.zone_fraction = o.storm_zone_fraction;
  out.storm.min_zone_nodes = o.storm_min_zone_nodes;
  out.storm.rate = o.storm_rate;
  out.storm.window = o.storm_window;
  return out;
}

}  // namespace

NodeManager::NodeManager(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                         Options options)
    : state_(state),
      clock_(clock),
      options_(options),
      sessions_(state),
      registrar_(state, events, options.task_network),
      reports_(state, events, clock),
      liveness_(state, events, clock, &sessions_, LivenessOptions(options)),
      logs_(&sessions_) {}

NodeManager::~NodeManager() { Stop(); }

void NodeManager::Start() {
  // Started when this control plane leads: grace counts from now. (Before
  // taking loop_mu_: a liveness pass may wake the loop while holding its
  // own lock.)
  liveness_.CountFrom(clock_->Monotonic());
  MutexLock lock(&loop_mu_);
  if (loop_ != nullptr) return;
  loop_ = std::make_unique<Periodic>(clock_, options_.check_interval, [this] { Tick(); });
}

void NodeManager::Stop() {
  std::unique_ptr<Periodic> loop;
  {
    MutexLock lock(&loop_mu_);
    loop = std::move(loop_);
  }
  // Joined outside the lock: a pass may wake the loop through a listener.
  loop.reset();
}

void NodeManager::Wake() {
  MutexLock lock(&loop_mu_);
  if (loop_ != nullptr) loop_->Wake();
}

absl::StatusOr<std::string> NodeManager::Register(std::shared_ptr<AgentConnection> connection,
                                                  const gantry::v1::RegisterRequest& r) {
  const absl::Time now = clock_->Now();
  // Write() validates the whole registration first: a refused one changes
  // nothing here (no record, no session, no task reports).
  auto written = registrar_.Write(r, now);
  if (!written.ok()) return written.status();
  const std::string& name = r.node_name();
  // Registered goes first: once attached, the loop may push a desired set.
  gantry::v1::ControlMessage registered;
  registered.mutable_registered()->set_node_name(name);
  *registered.mutable_registered()->mutable_heartbeat_interval() =
      ToProtoDuration(options_.heartbeat_interval);
  registered.mutable_registered()->set_cluster_id(options_.cluster_id);
  registered.mutable_registered()->set_task_subnet(written->task_subnet);
  registered.mutable_registered()->set_task_cidr(options_.task_network.cidr.ToString());
  connection->Send(registered);
  sessions_.Attach(name, connection, clock_->Monotonic());

  reports_.OnRegistration(name, r.tasks());
  registrar_.Announce(r, *written);
  if (written->RoutesChanged(r.address())) {
    // Every node routes to this one's tasks: all their sets change.
    std::set<std::string> all;
    for (const auto& n : state_->ListNodes()) all.insert(n.name());
    sessions_.MarkDirty(all);
  }
  sessions_.MarkDirty({name});
  Wake();
  return name;
}

void NodeManager::OnHeartbeat(
    const std::string& node,
    const google::protobuf::RepeatedPtrField<gantry::v1::NodeCheck>& checks) {
  liveness_.OnHeartbeat(node, checks);
}

void NodeManager::OnStatus(const std::string& node, const gantry::v1::TaskStatusReport& report) {
  liveness_.OnHeartbeat(node, {});
  reports_.OnReport(node, report);
}

void NodeManager::OnLogData(const std::string& node, const gantry::v1::LogData& data) {
  logs_.OnData(node, data);
}

void NodeManager::OnImages(const std::string& node, const gantry::v1::ImageReport& report) {
  images_.OnReport(node, report);
}

void NodeManager::OnDisconnect(const std::string& node, const AgentConnection* connection) {
  if (sessions_.Detach(node, connection, clock_->Monotonic())) {
    spdlog::info("node {} disconnected", node);
  }
  // Also when a newer connection replaced this one: log streams opened on
  // it would never hear from the agent again (those on the current
  // connection are spared).
  logs_.EndOrphaned(node);
}

absl::StatusOr<int64_t> NodeManager::OpenLogs(const gantry::v1::Task& task,
                                              const gantry::v1::GetLogsRequest& request,
                                              LogSink sink) {
  return logs_.Open(task, request, std::move(sink));
}

void NodeManager::CloseLogs(int64_t request_id) { logs_.Close(request_id); }

std::vector<gantry::v1::NodeImage> NodeManager::Images(const std::string& node) const {
  return images_.Images(node);
}

bool NodeManager::IsConnected(const std::string& node) const { return sessions_.IsConnected(node); }

absl::Time NodeManager::LastHeard(const std::string& node) const {
  const absl::Time heard = sessions_.LastHeard(node);
  return heard == absl::UnixEpoch() ? heard : clock_->WallTimeOf(heard);
}

void NodeManager::OnStateChange(const state::Change& change) {
  const std::set<std::string> firewalls = ingress_.NodesToUpdate(*state_, change);
  if (change.nodes.empty() && firewalls.empty()) return;
  sessions_.MarkDirty(change.nodes);
  sessions_.MarkDirty(firewalls);
  Wake();
}

void NodeManager::Tick() {
  sessions_.PushDirty();
  liveness_.Check();
}

gantry::v1::NodeCheck NodeManager::SystemCheck(const gantry::v1::Node& node) const {
  return liveness_.SystemCheck(node);
}

gantry::v1::DesiredTasks NodeManager::BuildDesiredTasks(const std::string& node) const {
  return nodes::BuildDesiredTasks(*state_, node);
}

}  // namespace gantry::nodes
