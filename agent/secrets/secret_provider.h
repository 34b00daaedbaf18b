#pragma once

// Turns a task's secret references into what its containers get: fetches
// the values once per start from the SecretSource (the control plane),
// then gives each container its environment variables and read-only bind
// mounts of files SecretFiles wrote on a tmpfs. The values live only in
// memory here, in those files and in the containers; nothing is persisted
// or logged. Release() removes a task's files once its containers are gone.
//
// Not thread-safe: the reconciler's thread owns it.

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/container_runtime.h"
#include "agent/secrets/secret_files.h"
#include "agent/secrets/secret_source.h"
#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

struct ContainerSecrets {
  std::vector<std::string> env;  // NAME=value
  std::vector<BindMount> mounts;
};

class SecretProvider {
 public:
  // `files` must outlive this.
  explicit SecretProvider(SecretFiles* files) : files_(files) {}
  void SetSource(SecretSource* source) { source_ = source; }

  // One entry per container of `assignment`; no fetch when it references no
  // secret. Unavailable: the control plane cannot be reached now (try
  // again); other errors fail the task.
  absl::StatusOr<std::vector<ContainerSecrets>> Prepare(
      const gantry::v1::TaskAssignment& assignment);
  void Release(const std::string& task_id) { files_->Remove(task_id); }
  void RetainOnly(const std::set<std::string>& task_ids) { files_->RemoveAllBut(task_ids); }

 private:
  SecretFiles* const files_;
  SecretSource* source_ = nullptr;
};

}  // namespace gantry::agent
