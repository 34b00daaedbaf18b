#include "controlplane/controllers/service_controller.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/placement/policy.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/controllers/task_batch.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/deployments/rollout.h"
#include "controlplane/scheduler/placement.h"
#include "controlplane/state/keys.h"

namespace gantry::controllers {

namespace {
// New tasks per store transaction.
constexpr size_t kMaxBatch = 20000;
}  // namespace

using gantry::v1::Service;
using gantry::v1::Task;
using gantry::v1::TaskDefinition;

ServiceController::ServiceController(state::ClusterState* state, events::EventLog* events,
                                     const Clock* clock, Options options,
                                     images::ImageResolver* resolver)
    : state_(state), events_(events), clock_(clock), options_(options), resolver_(resolver) {
  if (resolver_ != nullptr && options_.resolve_in_background) {
    background_ = std::make_unique<images::BackgroundResolver>(
        resolver_, [this](const std::string& key) { MarkDirty({key.substr(0, key.find('|'))}); });
  }
}

ServiceController::~ServiceController() { Stop(); }

void ServiceController::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ServiceController::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ServiceController::MarkDirty(const std::set<std::string>& services) {
  if (services.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_.insert(services.begin(), services.end());
  }
  cv_.notify_all();
}

void ServiceController::MarkAllDirty() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    all_dirty_ = true;
  }
  cv_.notify_all();
}

void ServiceController::RecheckAt(const std::string& service, absl::Time when) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = rechecks_.emplace(service, when);
  if (!inserted) it->second = std::min(it->second, when);
  cv_.notify_all();
}

void ServiceController::Loop() {
  absl::Time next_resync = absl::Now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    // Due rechecks become dirty services.
    const absl::Time now = clock_->Now();
    absl::Duration until_recheck = absl::InfiniteDuration();
    for (auto it = rechecks_.begin(); it != rechecks_.end();) {
      if (it->second <= now) {
        dirty_.insert(it->first);
        it = rechecks_.erase(it);
      } else {
        until_recheck = std::min(until_recheck, it->second - now);
        ++it;
      }
    }
    if (absl::Now() >= next_resync) all_dirty_ = true;
    if (dirty_.empty() && !all_dirty_) {
      const absl::Duration wait = std::min(next_resync - absl::Now(), until_recheck);
      if (wait > absl::ZeroDuration()) {
        cv_.wait_for(lock, absl::ToChronoNanoseconds(wait));
      }
      continue;
    }
    if (stop_) break;
    const bool all = all_dirty_;
    std::set<std::string> batch;
    batch.swap(dirty_);
    all_dirty_ = false;
    lock.unlock();
    if (all) {
      ReconcileAll();
      next_resync = absl::Now() + options_.resync_interval;
    } else {
      ReconcileNames(batch);
    }
    lock.lock();
  }
}

void ServiceController::ReconcileAll() {
  std::set<std::string> names;
  for (const auto& s : state_->ListServices()) names.insert(s.name());
  // Tasks whose service record is gone still need stopping and collecting.
  for (const auto& t : state_->ListTasks({.include_stopped = true})) names.insert(t.service());
  ReconcileNames(names);
}

void ServiceController::ReconcileNames(const std::set<std::string>& names) {
  const absl::Time began = absl::Now();
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
  CollectGarbage(tasks);
  const auto versioned = state_->GetService(name);
  if (!versioned) {
    std::vector<std::string> orphans;
    for (const auto& t : tasks) {
      if (t.desired_status() == Task::RUNNING) orphans.push_back(t.id());
    }
    return StopTasks(nullptr, orphans, "Service no longer exists");
  }
  Service service = versioned->value;
  if (service.status() == Service::DELETING) return ReconcileDeleting(service, tasks);
  return ReconcileDeployments(service, tasks, batch);
}

absl::Status ServiceController::Rebalance(const Service& service,
                                          const gantry::v1::Deployment& primary,
                                          const TaskDefinition& td,
                                          const scheduler::PlacementPolicy& policy,
                                          const std::vector<Task>& live, TaskBatch& batch) {
  if (service.has_zone_rebalancing() && !service.zone_rebalancing()) return absl::OkStatus();
  if (policy.strategies.empty() ||
      policy.strategies[0].kind != scheduler::Strategy::Kind::kSpread ||
      policy.strategies[0].field != scheduler::Strategy::Field::kZone) {
    return absl::OkStatus();  // only a zone spread asks for even zones
  }
  // Every zone where the service could run counts, with its tasks.
  std::map<std::string, int> zone_tasks;
  state_->WithPlacementView(service.name(),
                            [&](const scheduler::NodeTable& table, const scheduler::ServiceLoad&) {
                              for (const auto& n : table.nodes()) {
                                if (scheduler::StaticReject(n, policy).empty()) zone_tasks[n.zone];
                              }
                            });
  std::vector<scheduler::StopCandidate> candidates;
  for (const auto& t : live) {
    if (!zone_tasks.contains(t.zone())) continue;
    zone_tasks[t.zone()]++;
    candidates.push_back({t.id(), t.node(), t.zone(), true});
  }
  const auto move = scheduler::PlanRebalance(zone_tasks);
  if (!move) return absl::OkStatus();
  std::vector<scheduler::StopCandidate> in_from;
  for (const auto& c : candidates) {
    if (c.zone == move->from_zone) in_from.push_back(c);
  }
  const auto victims = scheduler::ChooseTasksToStop(in_from, 1);
  if (victims.empty()) return absl::OkStatus();
  // Within the deployment limits: start the replacement beside the task
  // when maximumPercent leaves room (the task leaves once the replacement
  // is healthy); otherwise stop the task first when minimumHealthyPercent
  // allows one fewer; otherwise the service stays as it is.
  const auto settings = deployments::SettingsOf(service);
  const int desired = primary.desired_count();
  const int live_count = static_cast<int>(live.size());
  const bool room_above = live_count + 1 <= deployments::MaxTotal(desired, settings.max_percent);
  const bool room_below = live_count - 1 >= deployments::MinHealthy(desired, settings.min_percent);
  if (!room_above && !room_below) {
    RecordFailure(service.name(),
                  absl::StrCat("zone rebalancing waits: ", move->from_zone, " has ",
                               zone_tasks[move->from_zone], " tasks and ", move->to_zone, " ",
                               zone_tasks[move->to_zone], ", but maximumPercent ",
                               settings.max_percent, " and minimumHealthyPercent ",
                               settings.min_percent, " leave no room to move one"));
    return absl::OkStatus();
  }
  // The replacement must land in the emptiest zone, or the move is moot.
  auto [result, request] = batch.Place(service, primary, td, policy, 1, move->to_zone);
  if (result.placed.empty()) {
    RecordFailure(
        service.name(),
        absl::StrCat("zone rebalancing: ", result.Explain(request, state_->ListNodes().size())));
    return absl::OkStatus();
  }
  const std::string reason =
      absl::StrCat("Zone rebalancing: ", move->from_zone, " has ", zone_tasks[move->from_zone],
                   " tasks, ", move->to_zone, " has ", zone_tasks[move->to_zone]);
  events_->Record(service.name(), victims[0], "",
                  absl::StrCat(reason, ": moving task ", victims[0].substr(0, 8), " to ",
                               move->to_zone, room_above ? "" : " (stopping it first)"));
  if (!room_above) return StopTasks(&service, {victims[0]}, reason);
  return state_->UpdateTask(victims[0], [&](Task& t) {
    if (!t.evicted_reason().empty() || t.desired_status() != Task::RUNNING) return false;
    t.set_evicted_reason(reason);
    return true;
  });
}

absl::Status ServiceController::ReconcileDeleting(const Service& service,
                                                  const std::vector<Task>& tasks) {
  std::vector<std::string> to_stop;
  bool all_stopped = true;
  for (const auto& t : tasks) {
    if (t.desired_status() == Task::RUNNING) to_stop.push_back(t.id());
    if (t.last_status() != Task::STOPPED && t.last_status() != Task::LOST) all_stopped = false;
  }
  RETURN_IF_ERROR(StopTasks(&service, to_stop, "Service deleted"));
  if (!all_stopped) return absl::OkStatus();
  auto current = state_->GetService(service.name());
  if (!current) return absl::OkStatus();
  store::TxnRequest txn;
  txn.compares.push_back({state::ServiceKey(service.name()), current->mod_revision});
  txn.ops.push_back(store::Op::Delete(state::ServiceKey(service.name())));
  auto result = state_->Commit(txn);
  if (!result.ok()) return result.status();
  if (result->succeeded) {
    last_failure_.erase(service.name());
    events_->Record(service.name(), "", "", "service deleted: all its tasks have stopped");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ServiceController::PinImages(Service& service,
                                                  gantry::v1::Deployment& deployment,
                                                  const TaskDefinition& td) {
  if (deployment.images_pinned()) return true;
  std::vector<gantry::v1::ImagePin> pins;
  std::vector<std::string> keys;
  bool waiting = false;
  for (const auto& c : td.containers()) {
    if (resolver_ == nullptr || (c.has_pin_digest() && !c.pin_digest())) continue;
    absl::StatusOr<std::string> digest;
    if (background_ != nullptr) {
      const std::string key = absl::StrCat(service.name(), "|", deployment.id(), "|", c.name());
      auto answer = background_->Get(key, c.image());
      if (!answer) {  // resolving; the answer marks the service dirty
        waiting = true;
        continue;
      }
      keys.push_back(key);
      digest = std::move(*answer);
    } else {
      digest = resolver_->Resolve(c.image());
    }
    if (!digest.ok()) {
      const std::string what =
          absl::StrCat("cannot pin the image of container ", c.name(), " of ",
                       deployment.task_definition(), ": ", digest.status().message());
      if (absl::IsUnavailable(digest.status()) || absl::IsDeadlineExceeded(digest.status())) {
        // The registry may come back: wait for it rather than run unpinned.
        if (background_ != nullptr) background_->Forget(keys.back());  // the retry asks again
        RecordFailure(service.name(), absl::StrCat(what, "; retrying"));
        RecheckAt(service.name(), clock_->Now() + absl::Seconds(5));
        return false;
      }
      // The registry answered no (unknown image, access denied): the tasks
      // start from the reference as written, so the failure shows on them
      // (CannotPullContainerError) and the circuit breaker can act.
      RecordFailure(service.name(), absl::StrCat(what, "; its tasks use the reference as written"));
      continue;
    }
    gantry::v1::ImagePin pin;
    pin.set_container(c.name());
    pin.set_image(c.image());
    pin.set_digest(*digest);
    pins.push_back(std::move(pin));
  }
  if (waiting) return false;
  const std::string id = deployment.id();
  RETURN_IF_ERROR(state_->UpdateService(service.name(), [&](Service& s) {
    auto* d = deployments::Find(s, id);
    if (d == nullptr || d->images_pinned()) return false;
    d->clear_image_pins();
    for (const auto& p : pins) *d->add_image_pins() = p;
    d->set_images_pinned(true);
    return true;
  }));
  std::vector<std::string> parts;
  for (const auto& p : pins) parts.push_back(absl::StrCat(p.container(), "=", p.digest()));
  if (!parts.empty()) {
    events_->Record(service.name(), "", "",
                    absl::StrCat("deployment ", id, " (", deployment.task_definition(),
                                 ") runs pinned digests: ", absl::StrJoin(parts, ", ")));
  }
  if (background_ != nullptr) {
    for (const auto& key : keys) background_->Forget(key);
  }
  last_failure_.erase(service.name());
  *deployment.mutable_image_pins() = {pins.begin(), pins.end()};
  deployment.set_images_pinned(true);
  return true;
}

absl::Time ServiceController::BackoffUntil(const Service& service,
                                           const gantry::v1::Deployment& deployment,
                                           const std::vector<Task>& tasks) {
  const absl::Time now = clock_->Now();
  int failures = 0;
  absl::Time latest = absl::InfinitePast();
  const Task* last = nullptr;
  for (const auto& t : tasks) {
    if (!t.failed() || t.deployment_id() != deployment.id()) continue;
    const absl::Time stopped = FromProtoTime(t.stopped_at());
    if (stopped < now - options_.failure_window) continue;
    failures++;
    if (stopped > latest) {
      latest = stopped;
      last = &t;
    }
  }
  if (failures == 0) {
    announced_backoff_.erase(service.name());
    return absl::InfinitePast();
  }
  const absl::Duration delay = std::min(
      options_.backoff_max, options_.backoff_base * (int64_t{1} << std::min(failures - 1, 30)));
  const absl::Time until = latest + delay;
  if (until > now && announced_backoff_[service.name()] != failures) {
    announced_backoff_[service.name()] = failures;
    events_->Record(
        service.name(), last->id(), last->node(),
        absl::StrCat(failures, " task(s) of ", service.resolved_task_definition(),
                     " failed in the last ", absl::FormatDuration(options_.failure_window),
                     " (latest: ", last->stopped_reason(), "); next replacement in ",
                     absl::FormatDuration(absl::Ceil(until - now, absl::Seconds(1)))));
  }
  return until;
}

void ServiceController::RecordFailure(const std::string& service, const std::string& message) {
  const absl::Time now = clock_->Now();
  auto it = last_failure_.find(service);
  if (it != last_failure_.end() && it->second.first == message &&
      now - it->second.second < options_.placement_event_interval) {
    return;
  }
  last_failure_[service] = {message, now};
  events_->Record(service, "", "", message);
}

absl::Status ServiceController::StopTasks(const Service* service,
                                          const std::vector<std::string>& ids,
                                          const std::string& reason, bool failed) {
  const bool balanced = service != nullptr && service->has_load_balancer();
  const absl::Duration delay =
      balanced ? deployments::SettingsOf(*service).deregistration_delay : absl::ZeroDuration();
  const absl::Time now = clock_->Now();
  for (const auto& id : ids) {
    bool stopped = false;
    bool deregistered = false;
    RETURN_IF_ERROR(state_->UpdateTask(id, [&](Task& t) {
      stopped = deregistered = false;
      if (t.desired_status() == Task::STOPPED) return false;
      // Behind a load balancer a running task first leaves it, and stops
      // once its requests have had the deregistration delay to finish.
      if (balanced && t.last_status() == Task::RUNNING && delay > absl::ZeroDuration()) {
        if (!t.has_deregistered_at()) {
          *t.mutable_deregistered_at() = ToProtoTime(now);
          if (failed) t.set_failed(true);
          deregistered = true;
          return true;
        }
        if (now < FromProtoTime(t.deregistered_at()) + delay) return false;
      }
      t.set_desired_status(Task::STOPPED);
      if (t.stopped_reason().empty()) t.set_stopped_reason(reason);
      if (failed) t.set_failed(true);
      if (t.last_status() == Task::RUNNING) t.set_last_status(Task::STOPPING);
      stopped = true;
      return true;
    }));
    if (deregistered) {
      RecheckAt(service->name(), now + delay);
      events_->Record(service->name(), id, "",
                      absl::StrCat("task ", id.substr(0, 8), " left the load balancer (", reason,
                                   "); stopping it in ", absl::FormatDuration(delay)));
    } else if (stopped) {
      auto t = state_->GetTask(id);
      events_->Record(t ? t->value.service() : "", id, t ? t->value.node() : "",
                      absl::StrCat("stopping task ", id.substr(0, 8), ": ", reason));
    } else if (balanced) {
      // Still waiting out the delay.
      auto t = state_->GetTask(id);
      if (t && t->value.has_deregistered_at() && t->value.desired_status() == Task::RUNNING) {
        RecheckAt(service->name(), FromProtoTime(t->value.deregistered_at()) + delay);
      }
    }
  }
  return absl::OkStatus();
}

void ServiceController::CollectGarbage(const std::vector<Task>& tasks) {
  const absl::Time cutoff = clock_->Now() - options_.stopped_task_retention;
  store::TxnRequest txn;
  for (const auto& t : tasks) {
    // LOST tasks go too: their node never came back to confirm the end.
    if ((t.last_status() == Task::STOPPED || t.last_status() == Task::LOST) &&
        t.desired_status() == Task::STOPPED && FromProtoTime(t.stopped_at()) < cutoff) {
      txn.ops.push_back(store::Op::Delete(state::TaskKey(t.id())));
    }
  }
  if (txn.ops.empty()) return;
  if (auto st = state_->Commit(txn); !st.ok()) {
    spdlog::warn("forget stopped tasks: {}", st.status().message());
  }
}

}  // namespace gantry::controllers
