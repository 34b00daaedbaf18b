#include "agent/task_starter.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/logs/log_paths.h"
#include "common/log.h"
#include "common/registry/reference.h"

namespace gantry::agent {

using gantry::v1::Task;
using gantry::v1::TaskAssignment;

TaskStarter::TaskStarter(ContainerRuntime* runtime, ImageManager* images, const Clock* clock,
                         TaskHost host, std::string data_dir, SecretProvider* secrets)
    : runtime_(runtime),
      images_(images),
      clock_(clock),
      host_(std::move(host)),
      data_dir_(std::move(data_dir)),
      secrets_(secrets) {}

void TaskStarter::Start(TrackedTask& r) {
  if (!ImagesReady(r) || !CreateContainers(r)) return;
  for (auto& c : r.containers) {
    if (c.state != ContainerState::kCreated) continue;
    if (auto st = runtime_->Start(c.id); !st.ok()) {
      return Fail(r, absl::StrCat("CannotStartContainerError: ", st.message()));
    }
    c.state = ContainerState::kRunning;
  }
  r.status = Task::RUNNING;
  r.started_at = clock_->Now();
  spdlog::info("task {} started ({} container(s))", r.task_id, r.containers.size());
}

bool TaskStarter::ImagesReady(TrackedTask& r) {
  const TaskAssignment& a = *r.assignment;
  bool ready = true;
  for (int i = 0; i < a.containers_size(); ++i) {
    TrackedContainer& c = r.containers[i];
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
      // After a failed attempt, that failure: the task says why it waits.
      c.reason = result.error.empty() ? absl::StrCat("pulling ", c.image) : result.error;
      ready = false;
    } else {
      c.reason.clear();
    }
  }
  return ready;
}

bool TaskStarter::NetworkFor(TrackedTask& r, TaskHost& host) {
  host = host_;
  const TaskAssignment& a = *r.assignment;
  if (a.network_mode() != "task") return true;
  if (network_ == nullptr) {
    Fail(r, "CannotSetUpNetworkError: this agent has no task networking (networkMode task)");
    return false;
  }
  std::vector<MappedPort> ports;
  for (const auto& p : a.ports()) {
    ports.push_back({p.host_port(), p.container_port() != 0 ? p.container_port() : p.host_port()});
  }
  auto attached = network_->Attach(r.task_id, ports);
  if (!attached.ok()) {
    if (absl::IsUnavailable(attached.status())) {
      if (!r.containers.empty()) r.containers[0].reason = std::string(attached.status().message());
    } else {
      Fail(r, absl::StrCat("CannotSetUpNetworkError: ", attached.status().message()));
    }
    return false;
  }
  host.netns_path = attached->netns;
  host.task_address = attached->address;
  r.address = attached->address;
  return true;
}

bool TaskStarter::CreateContainers(TrackedTask& r) {
  const TaskAssignment& a = *r.assignment;
  TaskHost host;
  if (!NetworkFor(r, host)) return false;
  // Fetched when the first container is created, and dropped after.
  std::optional<std::vector<ContainerSecrets>> secrets;
  for (int i = 0; i < a.containers_size(); ++i) {
    TrackedContainer& c = r.containers[i];
    if (c.present) {
      if (c.state != ContainerState::kNoTask) continue;
      // Creation was interrupted (the agent restarted midway): redo it.
      if (auto st = runtime_->Remove(c.id); !st.ok()) return false;
      c.present = false;
    }
    if (!secrets.has_value()) {
      auto prepared = secrets_->Prepare(a);
      if (absl::IsUnavailable(prepared.status())) {
        c.reason = absl::StrCat("waiting for secrets: ", prepared.status().message());
        return false;
      }
      if (!prepared.ok()) {
        Fail(r, absl::StrCat("CannotPullSecretsError: ", prepared.status().message()));
        return false;
      }
      secrets = std::move(*prepared);
    }
    const std::string log_path = ContainerLogPath(data_dir_, r.task_id, a.containers(i).name());
    if (auto st = runtime_->Create(BuildContainerSpec(a, i, c, host, log_path, &(*secrets)[i]));
        !st.ok()) {
      if (!absl::IsUnavailable(st)) {
        Fail(r, absl::StrCat("CannotCreateContainerError: ", st.message()));
      }
      return false;
    }
    c.present = true;
    c.state = ContainerState::kCreated;
  }
  return true;
}

void TaskStarter::Fail(TrackedTask& r, const std::string& reason) {
  for (auto& c : r.containers) {
    if (auto st = runtime_->Remove(c.id); !st.ok()) {
      spdlog::warn("task {}: clean up {}: {}", r.task_id, c.id, st.message());
    }
    c.present = false;
    c.state = ContainerState::kNoTask;
  }
  secrets_->Release(r.task_id);
  if (network_ != nullptr) {
    if (auto st = network_->Detach(r.task_id); !st.ok()) {
      spdlog::warn("task {}: {}", r.task_id, st.message());
    }
  }
  r.address.clear();
  r.status = Task::STOPPED;
  r.reason = reason;
  r.stopped_at = clock_->Now();
  spdlog::warn("task {}: {}", r.task_id, reason);
}

}  // namespace gantry::agent
