#pragma once

// In-memory ContainerRuntime for unit and integration tests. Containers
// "run" until a test makes them exit or they receive a signal: SIGTERM stops
// them with code 143 unless the test marked them as ignoring it, SIGKILL
// always stops them with 137.

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "agent/runtime/container_runtime.h"

namespace gantry::agent {

class FakeRuntime final : public ContainerRuntime {
 public:
  absl::StatusOr<std::vector<ContainerInfo>> Recover() override;
  absl::StatusOr<std::vector<ContainerInfo>> List() override;
  absl::Status CheckImage(const std::string& image) override;
  absl::Status PullImage(const registry::Reference& ref,
                         registry::RegistryClient& registry) override;
  absl::StatusOr<std::vector<ImageInfo>> ListImages() override;
  absl::Status RemoveImage(const std::string& name) override;
  absl::Status Create(const ContainerSpec& spec) override;
  absl::Status Start(const std::string& id) override;
  absl::Status Signal(const std::string& id, int signal, bool all) override;
  absl::Status Remove(const std::string& id) override;
  absl::Status Ping() override;
  absl::StatusOr<std::string> StorageRoot() override;
  absl::StatusOr<ExecResult> Exec(const std::string& id, const std::vector<std::string>& args,
                                  absl::Duration timeout) override;
  absl::StatusOr<std::map<std::string, ContainerStats>> Stats(
      const std::vector<std::string>& ids) override;

  // --- Test controls.
  void AddImage(const std::string& image);
  // Images the fake "registry" serves, by reference string; a pull of
  // anything else fails with NotFound "manifest unknown".
  void AddRegistryImage(const std::string& ref, const std::string& digest);
  // Makes pulls fail with `status` (OK restores them).
  void FailPulls(absl::Status status);
  // While held, pulls block (on the puller's thread) until released.
  void HoldPulls(bool hold);
  int pulls() const;
  std::vector<std::string> ImageNames() const;
  void Exit(const std::string& id, int code);
  void IgnoreSigterm(const std::string& id);
  void FailCreate(const std::string& message);
  void SetDown(bool down);
  // What StorageRoot answers (default "/").
  void SetStorageRoot(absl::StatusOr<std::string> root);
  // What Exec in container `id` answers from now on (default exit 0).
  void SetExecResult(const std::string& id, absl::StatusOr<ExecResult> result);
  std::vector<std::vector<std::string>> ExecCalls() const;
  // What Stats reports for container `id` while it runs.
  void SetStats(const std::string& id, ContainerStats stats);

  // --- Test observations.
  std::vector<std::string> RunningIds() const;
  std::vector<std::string> AllIds() const;
  std::optional<ContainerSpec> SpecOf(const std::string& id) const;
  std::vector<std::pair<std::string, int>> Signals() const;
  int creates() const;

 private:
  struct Container {
    ContainerSpec spec;
    ContainerInfo info;
    bool ignore_sigterm = false;
    ContainerStats stats;
  };
  absl::Status Available() const;

  mutable std::mutex mu_;
  std::map<std::string, std::string> images_;  // name -> digest
  std::map<std::string, std::string> registry_;
  absl::Status pull_failure_;
  int pulls_ = 0;
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool hold_pulls_ = false;  // guarded by hold_mu_
  std::map<std::string, Container> containers_;
  std::vector<std::pair<std::string, int>> signals_;
  std::string fail_create_;
  bool down_ = false;
  absl::StatusOr<std::string> storage_root_ = std::string("/");
  int creates_ = 0;
  std::map<std::string, absl::StatusOr<ExecResult>> exec_results_;
  std::vector<std::vector<std::string>> exec_calls_;
};

}  // namespace gantry::agent
