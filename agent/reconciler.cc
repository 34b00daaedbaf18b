#include "agent/reconciler.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_util.h"

namespace gantry::agent {

namespace fs = std::filesystem;
using gantry::v1::Task;
using gantry::v1::TaskAssignment;
using gantry::v1::TaskState;

namespace {

constexpr char kLabelEssential[] = "io.gantry.essential";
constexpr char kLabelImage[] = "io.gantry.image";
constexpr char kLabelStopTimeout[] = "io.gantry.stop-timeout-ms";

std::string EnvName(const std::string& port_name) {
  std::string out = absl::AsciiStrToUpper(port_name);
  for (char& c : out) {
    if (!absl::ascii_isalnum(c)) c = '_';
  }
  return out;
}

}  // namespace

Reconciler::Reconciler(ContainerRuntime* runtime, ImageManager* images, HealthMonitor* health,
                       const Clock* clock, Options options, ReportSink sink)
    : runtime_(runtime),
      images_(images),
      health_(health),
      clock_(clock),
      options_(std::move(options)),
      sink_(std::move(sink)) {}

std::string Reconciler::LogDir(const std::string& task_id) const {
  return (fs::path(options_.data_dir) / "logs" / task_id).string();
}

std::string Reconciler::LogPath(const std::string& task_id, const std::string& container) const {
  return (fs::path(LogDir(task_id)) / (container + ".log")).string();
}

std::vector<Reconciler::Container> Reconciler::ContainersFor(const TaskAssignment& a) {
  std::vector<Container> out;
  for (const auto& def : a.containers()) {
    Container c;
    c.name = def.name();
    c.id = absl::StrCat(a.task_id(), "-", def.name());
    c.image = def.image();
    if (auto ref = registry::ParseReference(def.image()); ref.ok()) {
      auto pinned = a.image_digests().find(def.name());
      c.image = pinned == a.image_digests().end() ? ref->String()
                                                  : ref->WithDigest(pinned->second).String();
    }
    c.essential = !def.has_essential() || def.essential();
    if (def.has_stop_timeout()) c.stop_timeout = FromProtoDuration(def.stop_timeout());
    out.push_back(std::move(c));
  }
  return out;
}

absl::Status Reconciler::Recover() {
  std::error_code ec;
  const fs::path dir = fs::path(options_.data_dir) / "tasks";
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data-dir: cannot create ", dir.string(), ": ", ec.message()));
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".pb") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    gantry::v1::LocalTaskRecord saved;
    if (!saved.ParseFromIstream(&in)) {
      spdlog::warn("ignoring unreadable task record {}", entry.path().string());
      continue;
    }
    Record r;
    r.task_id = saved.state().task_id();
    r.assignment = saved.assignment();
    r.containers = ContainersFor(saved.assignment());
    r.status = saved.state().status();
    r.reason = saved.state().reason();
    r.started_at = FromProtoTime(saved.state().started_at());
    r.stopped_at = FromProtoTime(saved.state().stopped_at());
    r.stop_reported = saved.stop_reported();
    for (auto& c : r.containers) {
      for (const auto& cs : saved.state().containers()) {
        if (cs.name() != c.name) continue;
        c.exited = cs.exited();
        c.exit_code = cs.exit_code();
        c.reason = cs.reason();
      }
    }
    records_[r.task_id] = std::move(r);
  }

  auto infos = runtime_->Recover();
  if (!infos.ok()) return infos.status();
  int adopted = 0;
  std::map<std::string, ContainerInfo> by_id;
  for (auto& info : *infos) by_id[info.id] = info;
  AdoptOrphans(by_id);
  for (auto& [id, r] : records_) {
    Refresh(r, by_id);
    bool any_running = false;
    for (const auto& c : r.containers) any_running |= Running(c.state);
    if (any_running && r.status == Task::PENDING) r.status = Task::RUNNING;
    adopted += any_running ? 1 : 0;
  }
  spdlog::info("recovered {} task(s), {} with running containers", records_.size(), adopted);
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_.clear();
  for (const auto& [id, r] : records_) snapshot_.push_back(StateOf(r));
  return absl::OkStatus();
}

void Reconciler::AdoptOrphans(const std::map<std::string, ContainerInfo>& infos) {
  for (const auto& [cid, info] : infos) {
    auto task = info.labels.find(kLabelTaskId);
    auto name = info.labels.find(kLabelContainer);
    if (task == info.labels.end() || name == info.labels.end()) continue;
    Record& r = records_[task->second];
    if (r.task_id.empty()) {
      // Known only from its labels: a container from before the agent lost
      // its records, or one whose task was forgotten.
      r.task_id = task->second;
      r.status = Running(info.state) ? Task::RUNNING : Task::STOPPING;
    }
    bool known = false;
    for (const auto& c : r.containers) known |= c.id == cid;
    if (known) continue;
    Container c;
    c.name = name->second;
    c.id = cid;
    if (auto i = info.labels.find(kLabelImage); i != info.labels.end()) c.image = i->second;
    if (auto e = info.labels.find(kLabelEssential); e != info.labels.end()) {
      c.essential = e->second != "false";
    }
    if (auto t = info.labels.find(kLabelStopTimeout); t != info.labels.end()) {
      int64_t ms = 0;
      if (absl::SimpleAtoi(t->second, &ms)) c.stop_timeout = absl::Milliseconds(ms);
    }
    r.containers.push_back(std::move(c));
  }
}

void Reconciler::NewSession() {
  std::lock_guard<std::mutex> lock(mu_);
  newest_sequence_ = 0;
}

bool Reconciler::SetDesired(const gantry::v1::DesiredTasks& desired) {
  std::lock_guard<std::mutex> lock(mu_);
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

void Reconciler::ApplyDesired(const gantry::v1::DesiredTasks& desired) {
  for (auto& [id, r] : records_) r.wanted = false;
  for (const auto& a : desired.tasks()) {
    Record& r = records_[a.task_id()];
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

void Reconciler::Refresh(Record& r, const std::map<std::string, ContainerInfo>& infos) {
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
  std::optional<gantry::v1::DesiredTasks> desired;
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    desired.swap(pending_);
    if (desired) {
      applied_sequence_ = desired->sequence();
      full_report_ = true;
    }
    full = full_report_;
    full_report_ = false;
  }
  if (desired) ApplyDesired(*desired);

  // With the runtime unreachable nothing can be observed or changed; the
  // records keep their last known state and the pass only reports.
  auto infos = runtime_->List();
  if (!infos.ok()) {
    spdlog::warn("container runtime: {}", infos.status().message());
  } else {
    std::map<std::string, ContainerInfo> by_id;
    for (auto& info : *infos) by_id[info.id] = std::move(info);
    if (have_desired_) AdoptOrphans(by_id);
    for (auto& [id, r] : records_) Refresh(r, by_id);
    // Stops first: a node back from being DOWN ends its stale tasks before
    // it starts anything new, and a new task whose host port a stale task
    // still holds waits until that one has stopped.
    if (have_desired_) {
      for (auto& [id, r] : records_) {
        if (r.status != Task::PENDING) Advance(r);
      }
      std::set<uint32_t> held;
      for (const auto& [id, r] : records_) {
        if (r.wanted || r.status == Task::STOPPED || !r.assignment) continue;
        for (const auto& p : r.assignment->ports()) held.insert(p.host_port());
      }
      for (auto& [id, r] : records_) {
        if (r.status != Task::PENDING) continue;
        const bool blocked =
            r.assignment && std::any_of(r.assignment->ports().begin(), r.assignment->ports().end(),
                                        [&](const gantry::v1::PortBinding& p) {
                                          return held.contains(p.host_port());
                                        });
        if (!blocked) Advance(r);
      }
    }
    for (auto& [id, r] : records_) {
      if (r.status == Task::RUNNING) RotateLogs(r);
    }
    SyncHealthChecks();
  }

  // Report what changed, or everything when asked to.
  gantry::v1::TaskStatusReport report;
  std::vector<std::string> forget;
  for (auto& [id, r] : records_) {
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
  if (infos.ok()) ManageImages();
  if (clock_->Now() >= next_log_cleanup_) {
    CollectOldLogs();
    next_log_cleanup_ = clock_->Now() + absl::Minutes(1);
  }
  std::vector<TaskState> snapshot;
  for (const auto& [id, r] : records_) snapshot.push_back(StateOf(r));
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snapshot);
    report.set_sequence(applied_sequence_);
    passes_++;
  }
  report.set_full(full);
  if (full || report.tasks_size() > 0) sink_(report);
}

void Reconciler::Advance(Record& r) {
  switch (r.status) {
    case Task::PENDING: {
      bool any_present = false;
      bool all_running = !r.containers.empty();
      for (const auto& c : r.containers) {
        any_present |= c.present;
        all_running &= Running(c.state);
      }
      if (!r.wanted) {
        r.status = any_present ? Task::STOPPING : Task::STOPPED;
        if (r.status == Task::STOPPED) r.stopped_at = clock_->Now();
        break;
      }
      if (all_running) {  // adopted after a restart
        r.status = Task::RUNNING;
        if (r.started_at == absl::UnixEpoch()) r.started_at = clock_->Now();
        break;
      }
      StartTask(r);
      break;
    }
    case Task::RUNNING: {
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
          r.reason = c.exit_code >= 0
                         ? absl::StrCat("EssentialContainerExited: essential container ", c.name,
                                        " exited with code ", c.exit_code)
                         : absl::StrCat("EssentialContainerExited: essential container ", c.name,
                                        ": ", c.reason);
        }
      }
      if (!r.reason.empty() || !r.wanted) r.status = Task::STOPPING;
      if (r.status == Task::STOPPING) DriveStop(r);
      break;
    }
    case Task::STOPPING:
      DriveStop(r);
      break;
    default:
      break;
  }
}

std::vector<std::string> Reconciler::Environment(const TaskAssignment& a) const {
  std::vector<std::string> env;
  env.push_back(absl::StrCat("GANTRY_TASK_ID=", a.task_id()));
  env.push_back(absl::StrCat("GANTRY_SERVICE=", a.service()));
  env.push_back(absl::StrCat("GANTRY_TASK_DEFINITION=", a.task_definition()));
  env.push_back(absl::StrCat("GANTRY_NODE=", options_.node_name));
  env.push_back(absl::StrCat("GANTRY_ZONE=", options_.zone));
  env.push_back(absl::StrCat("GANTRY_HOST_ADDRESS=", options_.node_address));
  for (const auto& p : a.ports()) {
    const std::string name = EnvName(p.name());
    env.push_back(absl::StrCat("GANTRY_PORT_", name, "=", p.host_port()));
    env.push_back(
        absl::StrCat("GANTRY_ADDR_", name, "=", options_.node_address, ":", p.host_port()));
  }
  return env;
}

bool Reconciler::ImagesReady(Record& r) {
  const TaskAssignment& a = *r.assignment;
  bool ready = true;
  for (int i = 0; i < a.containers_size(); ++i) {
    Container& c = r.containers[i];
    if (c.present) continue;
    if (auto ref = registry::ParseReference(a.containers(i).image()); !ref.ok()) {
      r.status = Task::STOPPED;
      r.reason = absl::StrCat("CannotPullContainerError: ", ref.status().message());
      r.stopped_at = clock_->Now();
      return false;
    }
    auto result = images_->Ensure(c.image, a.containers(i).pull_policy() == "always", r.task_id);
    if (result.state == ImageManager::State::kFailed) {
      r.status = Task::STOPPED;
      r.reason = absl::StrCat("CannotPullContainerError: ", result.error);
      r.stopped_at = clock_->Now();
      spdlog::warn("task {}: {}", r.task_id, r.reason);
      return false;
    }
    if (result.state == ImageManager::State::kPulling) {
      c.reason = absl::StrCat("pulling ", c.image);
      ready = false;
    } else {
      c.reason.clear();
    }
  }
  return ready;
}

void Reconciler::StartTask(Record& r) {
  if (!ImagesReady(r)) return;
  const TaskAssignment& a = *r.assignment;
  const std::vector<std::string> gantry_env = Environment(a);
  auto fail = [&](const std::string& reason) {
    for (auto& c : r.containers) {
      if (auto st = runtime_->Remove(c.id); !st.ok()) {
        spdlog::warn("task {}: clean up {}: {}", r.task_id, c.id, st.message());
      }
      c.present = false;
      c.state = ContainerState::kNoTask;
    }
    r.status = Task::STOPPED;
    r.reason = reason;
    r.stopped_at = clock_->Now();
    spdlog::warn("task {}: {}", r.task_id, reason);
  };
  for (int i = 0; i < a.containers_size(); ++i) {
    const auto& def = a.containers(i);
    Container& c = r.containers[i];
    if (c.present) {
      if (c.state == ContainerState::kNoTask) {
        // Creation was interrupted (the agent restarted midway): redo it.
        if (auto st = runtime_->Remove(c.id); !st.ok()) return;
        c.present = false;
      } else {
        continue;
      }
    }
    ContainerSpec spec;
    spec.id = c.id;
    spec.image = c.image;
    spec.command.assign(def.command().begin(), def.command().end());
    for (const auto& [k, v] : def.environment()) spec.env.push_back(absl::StrCat(k, "=", v));
    spec.env.insert(spec.env.end(), gantry_env.begin(), gantry_env.end());
    spec.cpu_millis = def.cpu();
    spec.memory_bytes = def.memory();
    spec.netns_path = options_.netns_path;
    spec.log_path = LogPath(r.task_id, def.name());
    spec.hostname = r.task_id.substr(0, 12);
    spec.labels = {{kLabelTaskId, r.task_id},
                   {kLabelNode, options_.node_name},
                   {kLabelContainer, def.name()},
                   {kLabelService, a.service()},
                   {kLabelTaskDefinition, a.task_definition()},
                   {kLabelEssential, c.essential ? "true" : "false"},
                   {kLabelImage, c.image},
                   {kLabelStopTimeout, absl::StrCat(absl::ToInt64Milliseconds(c.stop_timeout))}};
    if (auto st = runtime_->Create(spec); !st.ok()) {
      if (absl::IsUnavailable(st)) return;
      return fail(absl::StrCat("CannotCreateContainerError: ", st.message()));
    }
    c.present = true;
    c.state = ContainerState::kCreated;
  }
  for (auto& c : r.containers) {
    if (c.state != ContainerState::kCreated) continue;
    if (auto st = runtime_->Start(c.id); !st.ok()) {
      return fail(absl::StrCat("CannotStartContainerError: ", st.message()));
    }
    c.state = ContainerState::kRunning;
  }
  r.status = Task::RUNNING;
  r.started_at = clock_->Now();
  spdlog::info("task {} started ({} container(s))", r.task_id, r.containers.size());
}

void Reconciler::DriveStop(Record& r) {
  const absl::Time now = clock_->Now();
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
  r.status = Task::STOPPED;
  r.stopped_at = now;
  spdlog::info("task {} stopped{}", r.task_id, r.reason.empty() ? "" : ": " + r.reason);
}

}  // namespace gantry::agent
