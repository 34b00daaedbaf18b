#include "controlplane/controllers/service_controller.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_util.h"
#include "controlplane/deployments/deployments.h"

namespace gantry::controllers {

namespace {
// New tasks per store transaction.
constexpr size_t kMaxBatch = 20000;
}  // namespace

using gantry::v1::Service;
using gantry::v1::Task;

ServiceController::ServiceController(state::ClusterState* state, events::EventLog* events,
                                     const Clock* clock, Options options,
                                     images::ImageResolver* resolver)
    : state_(state),
      events_(events),
      clock_(clock),
      options_(options),
      rechecks_([this](absl::Time when) { WakeBy(when); }),
      failures_(events, clock, options.placement_event_interval),
      backoff_(events, clock,
               {.window = options.failure_window,
                .base = options.backoff_base,
                .max = options.backoff_max}),
      stopper_(state, events, clock, &rechecks_),
      collector_(state, clock, options.stopped_task_retention),
      taskdefs_(state),
      remover_(state, events, &stopper_, &failures_),
      runner_(state, events, clock, &failures_, &backoff_, &stopper_, &rechecks_),
      rebalancer_(state, events, &failures_, &stopper_),
      secret_pinner_(state, events, nullptr),
      pinner_(state, events, clock, &failures_, &rechecks_, resolver,
              options.resolve_in_background
                  ? std::function<void(const std::string&)>(
                        [this](const std::string& service) { MarkDirty({service}); })
                  : nullptr) {}

ServiceController::~ServiceController() { Stop(); }

void ServiceController::Start() {
  MutexLock lock(&mu_);
  if (loop_ != nullptr) return;  // started already
  loop_ = std::make_unique<Periodic>(clock_, options_.resync_interval, [this] { Pass(); });
}

void ServiceController::Stop() {
  std::unique_ptr<Periodic> loop;
  {
    MutexLock lock(&mu_);
    loop = std::move(loop_);
  }
  loop.reset();  // joins the thread, outside the lock a pass may want
}

void ServiceController::MarkDirty(const std::set<std::string>& services) {
  if (services.empty()) return;
  MutexLock lock(&mu_);
  dirty_.insert(services.begin(), services.end());
  if (loop_) loop_->Wake();
}

void ServiceController::MarkAllDirty() {
  MutexLock lock(&mu_);
  all_dirty_ = true;
  if (loop_) loop_->Wake();
}

void ServiceController::WakeBy(absl::Time when) {
  MutexLock lock(&mu_);
  if (loop_) loop_->RunBy(when);
}

void ServiceController::Pass() {
  const absl::Time now = clock_->Now();
  // Due rechecks become dirty services.
  std::set<std::string> names = rechecks_.TakeDue(now);
  bool all = false;
  {
    MutexLock lock(&mu_);
    if (now >= next_resync_) all_dirty_ = true;
    names.merge(dirty_);
    dirty_.clear();
    all = all_dirty_;
    all_dirty_ = false;
  }
  if (all) {
    ReconcileAll();
    MutexLock lock(&mu_);
    next_resync_ = clock_->Now() + options_.resync_interval;
  } else if (!names.empty()) {
    ReconcileNames(names);
  }
  // A run brought on early moves the loop's own schedule; keep the resync
  // and the rechecks on theirs.
  absl::Time next;
  {
    MutexLock lock(&mu_);
    next = next_resync_;
  }
  if (auto recheck = rechecks_.Earliest()) next = std::min(next, *recheck);
  WakeBy(next);
}

void ServiceController::ReconcileAll() {
  std::set<std::string> names;
  for (const auto& s : state_->ListServices()) names.insert(s.name());
  // Tasks whose service record is gone still need stopping and collecting.
  for (const auto& t : state_->ListTasks({.include_stopped = true})) names.insert(t.service());
  ReconcileNames(names);
  taskdefs_.Collect();
}

void ServiceController::ReconcileNames(const std::set<std::string>& names) {
  const absl::Time began = absl::Now();  // for the pass duration metric only
  TaskBatch batch(state_, events_, clock_, metrics_);
  for (const auto& name : names) {
    if (auto st = ReconcileInto(name, batch); !st.ok()) {
      spdlog::warn("reconcile service {}: {}", name, st.message());
    }
    if (batch.size() >= kMaxBatch) {
      if (auto st = batch.Flush(); !st.ok()) spdlog::warn("commit new tasks: {}", st.message());
    }
  }
  if (auto st = batch.Flush(); !st.ok()) spdlog::warn("commit new tasks: {}", st.message());
  if (metrics_ != nullptr) metrics_->LoopPass("services", absl::Now() - began);
}

absl::Status ServiceController::Reconcile(const std::string& name) {
  TaskBatch batch(state_, events_, clock_, metrics_);
  RETURN_IF_ERROR(ReconcileInto(name, batch));
  return batch.Flush();
}

absl::Status ServiceController::ReconcileInto(const std::string& name, TaskBatch& batch) {
  const auto tasks = state_->ListTasks({.service = name, .include_stopped = true});
  collector_.Collect(tasks);
  const auto versioned = state_->GetService(name);
  if (!versioned) return remover_.StopOrphans(tasks);
  Service service = versioned->value;
  if (service.status() == Service::DELETING) return remover_.Remove(service, tasks);
  return ReconcileDeployments(service, tasks, batch);
}

absl::Status ServiceController::ReconcileDeployments(Service& service,
                                                     const std::vector<Task>& tasks,
                                                     TaskBatch& batch) {
  const std::string& name = service.name();
  gantry::v1::Deployment* primary = deployments::Primary(service);
  if (primary == nullptr) return runner_.StartFirst(name);  // stored before deployments existed
  const auto td = state_->ResolveTaskDefinition(primary->task_definition());
  if (!td) {
    return absl::FailedPreconditionError(absl::StrCat(
        "service ", name, " deploys ", primary->task_definition(), ", which does not exist"));
  }
  auto policy = scheduler::PlacementPolicy::FromProto(service.placement());
  if (!policy.ok()) {
    failures_.Record(name, absl::StrCat("invalid placement: ", policy.status().message()));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(secret_pinner_.Pin(service, *primary, *td));
  ASSIGN_OR_RETURN(const bool pinned, pinner_.Pin(service, *primary, *td));
  if (!pinned) return absl::OkStatus();
  ASSIGN_OR_RETURN(const bool settled, runner_.Step(service, *primary, *td, *policy, tasks, batch));
  if (!settled) return absl::OkStatus();
  std::vector<Task> live;
  for (const auto& t : tasks) {
    if (t.desired_status() == Task::RUNNING) live.push_back(t);
  }
  return rebalancer_.Rebalance(service, *primary, *td, *policy, live, batch);
}

}  // namespace gantry::controllers
