#include "agent/reconciler.h"

#include <algorithm>
#include <csignal>
#include <set>

#include "absl/strings/str_cat.h"
#include "agent/health_targets.h"
#include "agent/logs/log_paths.h"
#include "common/log.h"
#include "common/node_fields.h"
#include "common/safe_id.h"

namespace gantry::agent {

using gantry::v1::Task;
using gantry::v1::TaskAssignment;
using gantry::v1::TaskState;

namespace {

// Why `a` must not be started, or "" when its ids are safe file names.
std::string UnsafeAssignment(const TaskAssignment& a) {
  if (!IsSafePathId(a.task_id())) return "the task id is not a safe file name";
  for (const auto& c : a.containers()) {
    if (!IsSafePathId(c.name())) {
      return absl::StrCat("container name ", QuoteForMessage(c.name()), " is not a safe file name");
    }
  }
  return "";
}

}  // namespace

Reconciler::Reconciler(ContainerRuntime* runtime, ImageManager* images, HealthMonitor* health,
                       const Clock* clock, Options options, ReportSink sink)
    : runtime_(runtime),
      images_(images),
      health_(health),
      clock_(clock),
      options_(std::move(options)),
      host_{options_.node_name, options_.zone, options_.node_address, options_.netns_path},
      sink_(std::move(sink)),
      records_(options_.data_dir),
      secret_files_(
          options_.secrets_dir.empty() ? options_.data_dir + "/secrets" : options_.secrets_dir,
          options_.secrets_on_tmpfs),
      secret_provider_(&secret_files_),
      starter_(runtime_, images_, clock_, host_, options_.data_dir, &secret_provider_) {}

std::string Reconciler::LogDir(const std::string& task_id) const {
  return TaskLogDir(options_.data_dir, task_id);
}

std::string Reconciler::LogPath(const std::string& task_id, const std::string& container) const {
  return ContainerLogPath(options_.data_dir, task_id, container);
}

TaskState Reconciler::StateOf(const TrackedTask& r) const {
  return ReportedState(r, *health_, *images_);
}

void Reconciler::Persist(const TrackedTask& r) { records_.Save(r, StateOf(r)); }

absl::Status Reconciler::Recover() {
  auto loaded = records_.Load();
  if (!loaded.ok()) return loaded.status();
  for (auto& r : *loaded) {
    const std::string id = r.task_id;
    tasks_[id] = std::move(r);
  }
  auto infos = runtime_->Recover();
  if (!infos.ok()) return infos.status();
  int adopted = 0;
  std::map<std::string, ContainerInfo> by_id;
  for (auto& info : *infos) by_id[info.id] = info;
  AdoptOrphans(by_id);
  for (auto& [id, r] : tasks_) {
    Refresh(r, by_id);
    const bool any_running = AnyRunning(r);
    if (any_running && r.status == Task::PENDING) r.status = Task::RUNNING;
    adopted += any_running ? 1 : 0;
  }
  spdlog::info("recovered {} task(s), {} with running containers", tasks_.size(), adopted);
  // Secret files of tasks this agent no longer knows go.
  std::set<std::string> known;
  for (const auto& [id, r] : tasks_) {
    if (r.status != Task::STOPPED) known.insert(id);
  }
  secret_provider_.RetainOnly(known);
  std::vector<TaskState> snapshot;
  for (const auto& [id, r] : tasks_) snapshot.push_back(StateOf(r));
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = std::move(snapshot);
  return absl::OkStatus();
}

void Reconciler::AdoptOrphans(const std::map<std::string, ContainerInfo>& infos) {
  for (const auto& [cid, info] : infos) {
    auto task = info.labels.find(kLabelTaskId);
    auto name = info.labels.find(kLabelContainer);
    if (task == info.labels.end() || name == info.labels.end()) continue;
    TrackedTask& r = tasks_[task->second];
    if (r.task_id.empty()) {
      // Known only from its labels: a container from before the agent lost
      // its records, or one whose task was forgotten.
      r.task_id = task->second;
      r.status = Running(info.state) ? Task::RUNNING : Task::STOPPING;
    }
    bool known = false;
    for (const auto& c : r.containers) known |= c.id == cid;
    if (!known) r.containers.push_back(ContainerFromLabels(cid, name->second, info.labels));
  }
}

void Reconciler::NewSession() {
  std::lock_guard<std::mutex> lock(mu_);
  newest_sequence_ = 0;
}

bool Reconciler::SetDesired(const gantry::v1::DesiredTasks& desired) {
  std::lock_guard<std::mutex> lock(mu_);
  if (desired.epoch() < newest_epoch_) {
    spdlog::warn(
        "ignoring the desired tasks of a replaced leader (epoch {}; the newest seen is {})",
        desired.epoch(), newest_epoch_);
    return false;
  }
  if (desired.epoch() > newest_epoch_) newest_sequence_ = 0;  // a new leader's first set
  newest_epoch_ = desired.epoch();
  if (desired.sequence() < newest_sequence_) return false;
  newest_sequence_ = desired.sequence();
  pending_ = desired;
  return true;
}

int64_t Reconciler::passes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return passes_;
}

int64_t Reconciler::applied_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_sequence_;
}

void Reconciler::RequestFullReport() {
  std::lock_guard<std::mutex> lock(mu_);
  full_report_ = true;
}

std::vector<TaskState> Reconciler::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

std::optional<gantry::v1::DesiredTasks> Reconciler::TakeDesired(bool& full_report) {
  std::optional<gantry::v1::DesiredTasks> desired;
  std::lock_guard<std::mutex> lock(mu_);
  desired.swap(pending_);
  if (desired) {
    applied_sequence_ = desired->sequence();
    full_report_ = true;
  }
  full_report = full_report_;
  full_report_ = false;
  return desired;
}

void Reconciler::ApplyDesired(const gantry::v1::DesiredTasks& desired) {
  for (auto& [id, r] : tasks_) r.wanted = false;
  for (const auto& a : desired.tasks()) {
    // Ids become file names (task records, logs): an assignment that could
    // name a path outside the data dir is never started, whoever sent it.
    if (std::string problem = UnsafeAssignment(a); !problem.empty()) {
      spdlog::error("refusing the control plane's assignment of task {}: {}",
                    QuoteForMessage(a.task_id()), problem);
      continue;
    }
    TrackedTask& r = tasks_[a.task_id()];
    if (r.task_id.empty()) {
      r.task_id = a.task_id();
      r.status = Task::PENDING;
    }
    if (!r.assignment) {
      // Keep what we learned about adopted containers (their state); take
      // the definition's view of essential and stop timeout.
      auto defined = ContainersFor(a);
      for (auto& d : defined) {
        for (const auto& c : r.containers) {
          if (c.id != d.id) continue;
          d.present = c.present;
          d.state = c.state;
          d.exited = c.exited;
          d.exit_code = c.exit_code;
        }
      }
      r.containers = std::move(defined);
      r.assignment = a;
      Persist(r);
    }
    r.wanted = true;
  }
  have_desired_ = true;
}

void Reconciler::Refresh(TrackedTask& r, const std::map<std::string, ContainerInfo>& infos) {
  for (auto& c : r.containers) {
    auto it = infos.find(c.id);
    c.present = it != infos.end();
    if (!c.present) {
      c.state = ContainerState::kNoTask;
      continue;
    }
    c.state = it->second.state;
    if (c.state == ContainerState::kStopped && !c.exited) {
      c.exited = true;
      c.exit_code = it->second.exit_code;
    }
  }
}

void Reconciler::Tick() {
  bool full = false;
  if (auto desired = TakeDesired(full)) ApplyDesired(*desired);

  // With the runtime unreachable nothing can be observed or changed; the
  // records keep their last known state and the pass only reports.
  runtime_observed_ = Observe();
  if (runtime_observed_) {
    if (have_desired_) ReconcileNetworks();
    if (have_desired_) AdvanceAll();
    health_->Sync(HealthTargetsFor(tasks_, options_.node_address));
  }
  gantry::v1::TaskStatusReport report = Report(full);

  std::vector<TaskState> snapshot;
  for (const auto& [id, r] : tasks_) snapshot.push_back(StateOf(r));
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snapshot);
    report.set_sequence(applied_sequence_);
    passes_++;
  }
  report.set_full(full);
  if (full || report.tasks_size() > 0) sink_(report);
}

bool Reconciler::Observe() {
  auto infos = runtime_->List();
  if (!infos.ok()) {
    spdlog::warn("container runtime: {}", infos.status().message());
    return false;
  }
  std::map<std::string, ContainerInfo> by_id;
  for (auto& info : *infos) by_id[info.id] = std::move(info);
  if (have_desired_) AdoptOrphans(by_id);
  for (auto& [id, r] : tasks_) Refresh(r, by_id);
  return true;
}

void Reconciler::AdvanceAll() {
  // Stops first: a node back from being DOWN ends its stale tasks before it
  // starts anything new, and a new task whose host port a stale task still
  // holds waits until that one has stopped.
  for (auto& [id, r] : tasks_) {
    if (r.status != Task::PENDING) Advance(r);
  }
  std::set<uint32_t> held;
  for (const auto& [id, r] : tasks_) {
    if (r.wanted || r.status == Task::STOPPED || !r.assignment) continue;
    for (const auto& p : r.assignment->ports()) held.insert(p.host_port());
  }
  for (auto& [id, r] : tasks_) {
    if (r.status != Task::PENDING) continue;
    const bool blocked =
        r.assignment &&
        std::any_of(r.assignment->ports().begin(), r.assignment->ports().end(),
                    [&](const gantry::v1::PortBinding& p) { return held.contains(p.host_port()); });
    if (!blocked) Advance(r);
  }
}

gantry::v1::TaskStatusReport Reconciler::Report(bool full) {
  gantry::v1::TaskStatusReport report;
  std::vector<std::string> forget;
  for (auto& [id, r] : tasks_) {
    TaskState ts = StateOf(r);
    std::string encoded = ts.SerializeAsString();
    const bool changed = encoded != r.last_sent;
    if (changed || full) *report.add_tasks() = ts;
    if (changed) {
      r.last_sent = std::move(encoded);
      if (r.status == Task::STOPPED) r.stop_reported = true;
      if (r.assignment) Persist(r);
    }
    if (r.status == Task::STOPPED && r.stop_reported && !r.wanted && have_desired_) {
      forget.push_back(id);
    }
  }
  for (const auto& id : forget) Forget(id);
  return report;
}

void Reconciler::ReconcileNetworks() {
  if (network_ == nullptr) return;
  const bool first = !networks_reconciled_;
  networks_reconciled_ = true;
  for (const std::string& id : network_->Attached()) {
    auto it = tasks_.find(id);
    if (it == tasks_.end() || it->second.status == Task::STOPPED) {
      // Nothing runs in it any more: the agent stopped before removing it,
      // or an earlier Detach failed. Tried again every pass.
      if (auto st = network_->Detach(id); !st.ok()) spdlog::warn("{}", st.message());
      continue;
    }
    TrackedTask& r = it->second;
    // Adopted tasks are checked once, after a restart; a start in progress
    // finishes its own.
    if (!first || r.status != Task::RUNNING) continue;
    if (auto found = network_->Find(id)) r.address = found->address;
    if (auto st = network_->Check(id); !st.ok()) {
      // Level-triggered: the task stops and the control plane replaces it.
      r.reason = absl::StrCat("TaskNetworkError: ", st.message());
      spdlog::warn("task {}: {}", id, r.reason);
    }
  }
}

void Reconciler::Forget(const std::string& task_id) {
  tasks_.erase(task_id);
  if (observer_ != nullptr) observer_->TaskForgotten(task_id);
  records_.Remove(task_id);
  secret_provider_.Release(task_id);
}

void Reconciler::Advance(TrackedTask& r) {
  switch (r.status) {
    case Task::PENDING:
      AdvancePending(r);
      break;
    case Task::RUNNING:
      AdvanceRunning(r);
      break;
    case Task::STOPPING:
      DriveStop(r);
      break;
    default:
      break;
  }
}

void Reconciler::AdvancePending(TrackedTask& r) {
  bool any_present = false;
  bool all_running = !r.containers.empty();
  for (const auto& c : r.containers) {
    any_present |= c.present;
    all_running &= Running(c.state);
  }
  if (!r.wanted) {
    r.status = any_present ? Task::STOPPING : Task::STOPPED;
    if (r.status == Task::STOPPED) r.stopped_at = clock_->Now();
    return;
  }
  if (all_running) {  // adopted after a restart
    r.status = Task::RUNNING;
    if (r.started_at == absl::UnixEpoch()) r.started_at = clock_->Now();
    return;
  }
  starter_.Start(r);
}

void Reconciler::AdvanceRunning(TrackedTask& r) {
  for (auto& c : r.containers) {
    if (Running(c.state)) continue;
    if (!c.exited) {
      c.exited = true;
      c.exit_code = -1;
      c.reason = "container disappeared from the runtime";
    }
    if (!c.exit_observed && r.wanted) {
      c.exit_observed = true;
      if (observer_ != nullptr && r.assignment) {
        observer_->ContainerExited(r.assignment->service(), r.task_id, c.name);
      }
    }
    if (c.essential && r.reason.empty()) {
      r.reason = c.exit_code >= 0 ? absl::StrCat("EssentialContainerExited: essential container ",
                                                 c.name, " exited with code ", c.exit_code)
                                  : absl::StrCat("EssentialContainerExited: essential container ",
                                                 c.name, ": ", c.reason);
    }
  }
  if (!r.reason.empty() || !r.wanted) r.status = Task::STOPPING;
  if (r.status == Task::STOPPING) DriveStop(r);
}

void Reconciler::DriveStop(TrackedTask& r) {
  // The stop timeout runs on the monotonic clock: a clock set ahead must
  // not SIGKILL a container that was given time to shut down.
  const absl::Time now = clock_->Monotonic();
  bool all_down = true;
  for (auto& c : r.containers) {
    if (!Running(c.state)) continue;
    all_down = false;
    if (!c.term_sent) {
      if (auto st = runtime_->Signal(c.id, SIGTERM, false); !st.ok()) {
        spdlog::warn("task {}: SIGTERM {}: {}", r.task_id, c.name, st.message());
        continue;
      }
      c.term_sent = true;
      c.deadline = now + c.stop_timeout;
    } else if (!c.kill_sent && now >= c.deadline) {
      if (auto st = runtime_->Signal(c.id, SIGKILL, true); !st.ok()) {
        spdlog::warn("task {}: SIGKILL {}: {}", r.task_id, c.name, st.message());
        continue;
      }
      c.kill_sent = true;
      spdlog::info("task {}: {} ignored SIGTERM for {}; killed", r.task_id, c.name,
                   absl::FormatDuration(c.stop_timeout));
    }
  }
  if (!all_down) return;
  for (auto& c : r.containers) {
    if (!c.present) continue;
    if (auto st = runtime_->Remove(c.id); !st.ok()) {
      spdlog::warn("task {}: remove {}: {}", r.task_id, c.id, st.message());
      return;  // retried next tick
    }
    c.present = false;
  }
  if (network_ != nullptr) {
    if (auto st = network_->Detach(r.task_id); !st.ok()) {
      spdlog::warn("task {}: {}", r.task_id, st.message());
      return;  // retried next tick
    }
  }
  r.address.clear();
  r.status = Task::STOPPED;
  r.stopped_at = clock_->Now();  // a record's time: the wall clock
  secret_provider_.Release(r.task_id);
  spdlog::info("task {} stopped{}", r.task_id, r.reason.empty() ? "" : ": " + r.reason);
}

}  // namespace gantry::agent
