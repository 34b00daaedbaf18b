#pragma once

// TaskNetwork over the standard CNI plugins Debian ships
// (containernetworking-plugins): per task, a namespace under netns_dir,
// then loopback on lo, bridge on eth0 (the node's bridge, gateway on its
// first address, host-local addresses from the node's task subnet), and
// portmap for the published ports, chained as the CNI specification says
// (each plugin gets the previous one's result as prevResult). DEL runs in
// reverse with the recorded result; CHECK replays it to bridge (see
// Check() for why not to portmap).
//
// Each attachment is recorded in state_dir/<task>.json before ADD (so an
// agent that dies in the middle deletes what it started) and again with
// the plugins' result after. An ADD that fails is undone (DEL, namespace
// removed) before the error is returned.

#include <memory>
#include <mutex>
#include <string>

#include "agent/network/cni_exec.h"
#include "agent/network/task_network.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

class CniNetwork final : public TaskNetwork {
 public:
  struct Options {
    std::string state_dir;  // attachment records and host-local's leases
    std::string netns_dir;  // the tasks' namespaces
    std::string bridge = "gantry0";
    std::string network_name = "gantry";
    // False only in tests that run as an unprivileged user: the namespace
    // paths are then used as given, not created.
    bool manage_namespaces = true;
  };

  // `exec` must outlive this.
  CniNetwork(Options options, CniExec* exec);

  // The node's task subnet from the control plane ("10.200.3.0/24");
  // Attach waits for it.
  void SetSubnet(const std::string& subnet);
  std::string subnet() const;

  absl::StatusOr<TaskAttachment> Attach(const std::string& task_id,
                                        const std::vector<MappedPort>& ports) override;
  absl::Status Check(const std::string& task_id) override;
  absl::Status Detach(const std::string& task_id) override;
  std::vector<std::string> Attached() const override;
  std::optional<TaskAttachment> Find(const std::string& task_id) const override;

  // The plugin configurations, in ADD order (pure; for tests and docs).
  nlohmann::json BridgeConfig(const std::string& subnet) const;
  nlohmann::json PortmapConfig(const std::vector<MappedPort>& ports) const;

 private:
  std::string RecordPath(const std::string& task_id) const;
  std::optional<nlohmann::json> Load(const std::string& task_id) const;
  absl::Status Save(const std::string& task_id, const nlohmann::json& record) const;
  // DEL of everything `record` says was (or may have been) added.
  absl::Status Teardown(const std::string& task_id, const nlohmann::json& record);
  absl::StatusOr<std::string> Call(const std::string& command, const std::string& task_id,
                                   const std::string& netns, const std::string& ifname,
                                   nlohmann::json config, const nlohmann::json* prev);

  const Options options_;
  CniExec* const exec_;
  mutable std::mutex mu_;
  std::string subnet_;  // guarded by mu_: set by the session thread
};

// The first address of a CNI result ("10.200.3.7/24" -> "10.200.3.7"),
// or "" when it has none.
std::string ResultAddress(const nlohmann::json& result);

}  // namespace gantry::agent
