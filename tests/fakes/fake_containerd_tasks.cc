// The fake containerd's Tasks service: a task per container (its main
// process) and the processes exec'd in it, with containerd's lifecycle.
//
// Create makes a CREATED process (the container must exist, the rootfs
// mounts must name an active snapshot); Start runs it; a signal or ExitTask
// stops it, and a stopped main process takes its exec'd processes with it.
// Kill of a process that has stopped is NOT_FOUND "process already
// finished"; Delete of a running one is FAILED_PRECONDITION. Exec needs a
// running task; the exec'd process's script runs at its Start. Wait blocks
// until the process stops or the call's deadline passes.

#include <csignal>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/time_util.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_containerd_filters.h"
#include "tests/fakes/fake_containerd_state.h"

namespace gantry::testing::containerd_fake {

namespace {

namespace tasks = api::tasks::v1;
using containerd::v1::types::CREATED;
using containerd::v1::types::RUNNING;
using containerd::v1::types::STOPPED;

constexpr char kProcessSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Process";

std::string StateName(ProcessStatus s) {
  switch (s) {
    case CREATED:
      return "created";
    case RUNNING:
      return "running";
    case STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

// Appends `text` to the file a file:// URI names (other stdio is dropped).
void WriteOutput(const std::string& uri, const std::string& text) {
  absl::string_view path = uri;
  if (text.empty() || !absl::ConsumePrefix(&path, "file://")) return;
  std::ofstream(std::string(path), std::ios::app | std::ios::binary) << text;
}

void FillProcess(const std::string& id, const Process& p, containerd::v1::types::Process* out) {
  out->set_id(id);
  out->set_pid(p.pid);
  out->set_status(p.status);
  out->set_stdin(p.stdin_uri);
  out->set_stdout(p.stdout_uri);
  out->set_stderr(p.stderr_uri);
  out->set_exit_status(p.exit_status);
  *out->mutable_exited_at() = ToProtoTime(p.exited_at);
}

absl::StatusOr<std::vector<std::string>> ArgsOf(const google::protobuf::Any& spec) {
  if (spec.type_url() != kProcessSpecType) {
    return absl::InvalidArgumentError(
        absl::StrCat("process spec of type \"", spec.type_url(), "\", want ", kProcessSpecType));
  }
  const nlohmann::json process = nlohmann::json::parse(spec.value(), nullptr, false);
  if (process.is_discarded() || !process.contains("args") || !process["args"].is_array() ||
      process["args"].empty()) {
    return absl::InvalidArgumentError("process spec has no args");
  }
  std::vector<std::string> args;
  for (const auto& a : process["args"]) args.push_back(a.is_string() ? a.get<std::string>() : "");
  return args;
}

class TasksService final : public tasks::Tasks::Service {
 public:
  explicit TasksService(State* state) : state_(state) {}

  grpc::Status Create(grpc::ServerContext* ctx, const tasks::CreateTaskRequest* req,
                      tasks::CreateTaskResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.Create"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    const std::string& id = req->container_id();
    auto container = state_->containers.find(id);
    if (container == state_->containers.end()) return NotFound(absl::StrCat("container ", id));
    if (state_->tasks.count(id) > 0) return AlreadyExists(absl::StrCat("task ", id));
    Task task;
    if (req->rootfs().empty()) {
      task.rootfs_snapshot = container->second.snapshot_key();
    } else {
      task.rootfs_snapshot = state_->ActiveSnapshotOf(req->rootfs());
      if (task.rootfs_snapshot.empty()) return InvalidArgument("rootfs mounts name no snapshot");
      task.rootfs.assign(req->rootfs().begin(), req->rootfs().end());
    }
    task.init.pid = state_->next_pid++;
    task.init.stdin_uri = req->stdin();
    task.init.stdout_uri = req->stdout();
    task.init.stderr_uri = req->stderr();
    resp->set_container_id(id);
    resp->set_pid(task.init.pid);
    state_->tasks[id] = std::move(task);
    return grpc::Status::OK;
  }

  grpc::Status Start(grpc::ServerContext* ctx, const tasks::StartRequest* req,
                     tasks::StartResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.Start"); !st.ok()) return st;
    FakeContainerd::ExecScriptFn script;
    std::vector<std::string> args;
    {
      MutexLock lock(&state_->mu);
      grpc::Status st;
      Process* p = Find(req->container_id(), req->exec_id(), &st);
      if (p == nullptr) return st;
      if (p->status != CREATED) {
        return FailedPrecondition(
            absl::StrCat("cannot start a ", StateName(p->status), " process"));
      }
      p->status = RUNNING;
      if (p->history.has_value()) p->pid = state_->next_pid++;
      resp->set_pid(p->pid);
      if (!p->history.has_value()) return grpc::Status::OK;
      auto it = state_->exec_scripts.find(req->container_id());
      if (it != state_->exec_scripts.end()) script = it->second;
      args = state_->exec_history[*p->history].view.args;
    }
    // The exec'd process runs its script without the lock.
    const FakeContainerd::ExecScript result = script ? script(args) : FakeContainerd::ExecScript();
    MutexLock lock(&state_->mu);
    grpc::Status st;
    Process* p = Find(req->container_id(), req->exec_id(), &st);
    if (p == nullptr || p->status != RUNNING || result.hang) return grpc::Status::OK;
    WriteOutput(p->stdout_uri, result.output);
    state_->Stop(*p, result.exit_code);
    return grpc::Status::OK;
  }

  grpc::Status Delete(grpc::ServerContext* ctx, const tasks::DeleteTaskRequest* req,
                      tasks::DeleteResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.Delete"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->tasks.find(req->container_id());
    if (it == state_->tasks.end()) return NotFound(absl::StrCat("task ", req->container_id()));
    const Process& p = it->second.init;
    if (p.status == RUNNING) return FailedPrecondition("cannot delete a running process");
    FillDeleted(req->container_id(), p, resp);
    for (const auto& [exec_id, e] : it->second.execs) {
      state_->exec_history[*e.history].view.deleted = true;
    }
    state_->tasks.erase(it);
    state_->ended.SignalAll();
    return grpc::Status::OK;
  }

  grpc::Status DeleteProcess(grpc::ServerContext* ctx, const tasks::DeleteProcessRequest* req,
                             tasks::DeleteResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.DeleteProcess"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    if (req->exec_id().empty()) return InvalidArgument("exec id must be set");
    grpc::Status st;
    Process* p = Find(req->container_id(), req->exec_id(), &st);
    if (p == nullptr) return st;
    if (p->status == RUNNING) return FailedPrecondition("cannot delete a running process");
    FillDeleted(req->exec_id(), *p, resp);
    state_->exec_history[*p->history].view.deleted = true;
    state_->tasks[req->container_id()].execs.erase(req->exec_id());
    state_->ended.SignalAll();
    return grpc::Status::OK;
  }

  grpc::Status Get(grpc::ServerContext* ctx, const tasks::GetRequest* req,
                   tasks::GetResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.Get"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    grpc::Status st;
    const Process* p = Find(req->container_id(), req->exec_id(), &st);
    if (p == nullptr) return st;
    FillProcess(req->exec_id().empty() ? req->container_id() : req->exec_id(), *p,
                resp->mutable_process());
    return grpc::Status::OK;
  }

  grpc::Status List(grpc::ServerContext* ctx, const tasks::ListTasksRequest* req,
                    tasks::ListTasksResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.List"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    // As containerd does, `id` (not container_id) carries the container's id.
    for (const auto& [id, task] : state_->tasks) FillProcess(id, task.init, resp->add_tasks());
    return grpc::Status::OK;
  }

  grpc::Status Kill(grpc::ServerContext* ctx, const tasks::KillRequest* req,
                    google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Tasks.Kill"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    grpc::Status st;
    Process* p = Find(req->container_id(), req->exec_id(), &st);
    if (p == nullptr) return st;
    if (p->status == STOPPED) return NotFound("process already finished");
    const int signal = static_cast<int>(req->signal());
    p->signals.push_back(signal);
    p->signalled_all = p->signalled_all || req->all();
    std::optional<int> exit_code = 128 + signal;
    auto effect = state_->signal_effects.find({req->container_id(), signal});
    if (req->exec_id().empty() && signal != SIGKILL && effect != state_->signal_effects.end()) {
      exit_code = effect->second;
    }
    if (!exit_code.has_value()) return grpc::Status::OK;
    if (req->exec_id().empty()) {
      state_->StopTask(state_->tasks[req->container_id()], *exit_code);
    } else {
      state_->Stop(*p, *exit_code);
    }
    return grpc::Status::OK;
  }

  grpc::Status Exec(grpc::ServerContext* ctx, const tasks::ExecProcessRequest* req,
                    google::protobuf::Empty*) override {
    if (auto st = state_->Enter(ctx, "Tasks.Exec"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    auto it = state_->tasks.find(req->container_id());
    if (it == state_->tasks.end()) return NotFound(absl::StrCat("task ", req->container_id()));
    if (it->second.init.status != RUNNING) {
      return FailedPrecondition(
          absl::StrCat("cannot exec in a ", StateName(it->second.init.status), " state"));
    }
    if (req->exec_id().empty()) return InvalidArgument("exec id must not be empty");
    if (it->second.execs.count(req->exec_id()) > 0) {
      return AlreadyExists(absl::StrCat("id ", req->exec_id()));
    }
    auto args = ArgsOf(req->spec());
    if (!args.ok()) return InvalidArgument(args.status().message());
    Process p;
    p.stdin_uri = req->stdin();
    p.stdout_uri = req->stdout();
    p.stderr_uri = req->stderr();
    p.history = state_->exec_history.size();
    ExecRecord record{req->container_id(), {}};
    record.view.exec_id = req->exec_id();
    record.view.spec_json = req->spec().value();
    record.view.args = *std::move(args);
    record.view.stdout_uri = req->stdout();
    state_->exec_history.push_back(std::move(record));
    it->second.execs[req->exec_id()] = std::move(p);
    return grpc::Status::OK;
  }

  grpc::Status Metrics(grpc::ServerContext* ctx, const tasks::MetricsRequest* req,
                       tasks::MetricsResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.Metrics"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    const std::vector<std::string> filters(req->filters().begin(), req->filters().end());
    for (const auto& [id, task] : state_->tasks) {
      auto metrics = state_->metrics.find(id);
      if (task.init.status != RUNNING || metrics == state_->metrics.end()) continue;
      auto match = MatchesAny(filters, [&id = id](const std::vector<std::string>& path) {
        return path == std::vector<std::string>{"id"} ? std::optional<std::string>(id)
                                                      : std::nullopt;
      });
      if (!match.ok()) return InvalidArgument(match.status().message());
      if (!*match) continue;
      auto* metric = resp->add_metrics();
      *metric->mutable_timestamp() = ToProtoTime(absl::Now());
      metric->set_id(id);
      *metric->mutable_data() = metrics->second;
    }
    return grpc::Status::OK;
  }

  grpc::Status Wait(grpc::ServerContext* ctx, const tasks::WaitRequest* req,
                    tasks::WaitResponse* resp) override {
    if (auto st = state_->Enter(ctx, "Tasks.Wait"); !st.ok()) return st;
    MutexLock lock(&state_->mu);
    grpc::Status st;
    if (Find(req->container_id(), req->exec_id(), &st) == nullptr) return st;
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
      grpc::Status ignored;
      const Process* p = Find(req->container_id(), req->exec_id(), &ignored);
      return state_->shutting_down || p == nullptr || p->status == STOPPED;
    };
    // Until done() or the call's deadline; done() is asked once more after the
    // deadline, so a process that stopped just then still counts.
    const absl::Time deadline = absl::FromChrono(ctx->deadline());
    bool timed_out = false;
    while (!done() && !timed_out) timed_out = state_->ended.WaitWithDeadline(&state_->mu, deadline);
    const bool stopped = done();
    if (state_->shutting_down) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
    if (!stopped) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "context deadline exceeded");
    }
    const Process* p = Find(req->container_id(), req->exec_id(), &st);
    if (p == nullptr) return st;
    resp->set_exit_status(p->exit_status);
    *resp->mutable_exited_at() = ToProtoTime(p->exited_at);
    return grpc::Status::OK;
  }

 private:
  // The main process (empty exec_id) or an exec'd one; NOT_FOUND in *st.
  Process* Find(const std::string& container_id, const std::string& exec_id, grpc::Status* st)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    auto task = state_->tasks.find(container_id);
    if (task == state_->tasks.end()) {
      *st = NotFound(absl::StrCat("task ", container_id));
      return nullptr;
    }
    if (exec_id.empty()) return &task->second.init;
    auto p = task->second.execs.find(exec_id);
    if (p == task->second.execs.end()) {
      *st = NotFound(absl::StrCat("process ", exec_id));
      return nullptr;
    }
    return &p->second;
  }

  static void FillDeleted(const std::string& id, const Process& p, tasks::DeleteResponse* resp) {
    resp->set_id(id);
    resp->set_pid(p.pid);
    resp->set_exit_status(p.exit_status);
    *resp->mutable_exited_at() = ToProtoTime(p.exited_at);
  }

  State* const state_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewTasksService(State* state) {
  return std::make_unique<TasksService>(state);
}

}  // namespace gantry::testing::containerd_fake
