#pragma once

// Runs one CNI plugin the way the CNI specification says a runtime does:
// the plugin binary found in the plugin directories, CNI_COMMAND,
// CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_PATH in its environment,
// the network configuration on stdin, its result (or its error object) on
// stdout. CniExec is the seam: tests script the plugins' answers.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gantry::agent {

struct CniCall {
  std::string plugin;   // its type: "bridge", "portmap", "loopback"
  std::string command;  // ADD, DEL or CHECK
  std::string container_id;
  std::string netns;  // the task's namespace
  std::string ifname;
  std::string config;  // JSON, with name, cniVersion and prevResult
};

class CniExec {
 public:
  virtual ~CniExec() = default;
  // The plugin's stdout on success. A plugin's error object becomes an
  // error with its words ("bridge: failed to ...: ..."); a missing plugin
  // is FailedPrecondition naming where it was looked for.
  virtual absl::StatusOr<std::string> Run(const CniCall& call) = 0;
};

class ProcessCniExec final : public CniExec {
 public:
  // Plugins are looked for in `plugin_dirs` in order and run inside
  // `host_netns` (the node's namespace; empty: the agent's), which is
  // where their bridge, routes and NAT rules go.
  ProcessCniExec(std::vector<std::string> plugin_dirs, std::string host_netns,
                 absl::Duration timeout = absl::Seconds(30));

  absl::StatusOr<std::string> Run(const CniCall& call) override;

 private:
  const std::vector<std::string> plugin_dirs_;
  const std::string host_netns_;
  const absl::Duration timeout_;
};

// The path of `plugin` in the first of `dirs` that holds it, executable;
// FailedPrecondition naming the directories and the fix otherwise.
absl::StatusOr<std::string> FindPlugin(const std::vector<std::string>& dirs,
                                       const std::string& plugin);

// The text of a plugin's error object ({"code", "msg", "details"}), or
// the raw output when it is not one.
std::string CniErrorText(const std::string& plugin, const std::string& output, int exit_code);

}  // namespace gantry::agent
