#pragma once

// Brings a wanted PENDING task to RUNNING, one step per reconciliation pass:
//   - asks the ImageManager for each missing container's image; the task
//     stays PENDING while pulls run, and a reference that cannot be parsed
//     or a pull that fails for good stops it (CannotPullContainerError);
//   - fetches the task's secrets (SecretProvider) when a container must be
//     created; an unreachable control plane leaves it PENDING, a refusal
//     stops it (CannotPullSecretsError);
//   - creates the containers the runtime lacks (redoing one whose creation
//     a restart interrupted), then starts them, and marks the task RUNNING.
// A create or start the runtime refuses stops the task with the reason
// (CannotCreateContainerError, CannotStartContainerError) after removing
// what was created; an unreachable runtime leaves it PENDING for the next
// pass. Times come from the injected clock.
//
// Not thread-safe: the Reconciler calls it from its Tick() thread.

#include <string>

#include "agent/container_specs.h"
#include "agent/images/image_manager.h"
#include "agent/network/task_network.h"
#include "agent/runtime/container_runtime.h"
#include "agent/secrets/secret_provider.h"
#include "agent/tracked_task.h"
#include "common/clock.h"

namespace gantry::agent {

class TaskStarter {
 public:
  // Container output goes under `data_dir` (logs/log_paths.h). `secrets`
  // must outlive this.
  TaskStarter(ContainerRuntime* runtime, ImageManager* images, const Clock* clock, TaskHost host,
              std::string data_dir, SecretProvider* secrets);

  // Where tasks in networkMode task get their network; without one they
  // fail to start, saying so.
  void SetNetwork(TaskNetwork* network) { network_ = network; }

  // `task` has an assignment.
  void Start(TrackedTask& task);

 private:
  // False while images are still being pulled, or after failing the task
  // because one cannot be.
  bool ImagesReady(TrackedTask& task);
  // False when the task cannot start now (retried) or failed.
  bool CreateContainers(TrackedTask& task);
  // The host as the task's containers see it: for networkMode task, its
  // own namespace and address (set up now if need be). False when it is
  // not ready (retried) or failed the task.
  bool NetworkFor(TrackedTask& task, TaskHost& host);
  void Fail(TrackedTask& task, const std::string& reason);

  ContainerRuntime* const runtime_;
  ImageManager* const images_;
  const Clock* const clock_;
  const TaskHost host_;
  const std::string data_dir_;
  SecretProvider* const secrets_;
  TaskNetwork* network_ = nullptr;
};

}  // namespace gantry::agent
