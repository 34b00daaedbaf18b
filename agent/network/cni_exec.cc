#include "agent/network/cni_exec.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/network/netns_process.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

std::string CniErrorText(const std::string& plugin, const std::string& output, int exit_code) {
  nlohmann::json j = nlohmann::json::parse(output, nullptr, false);
  if (j.is_object() && j.contains("msg") && j["msg"].is_string()) {
    std::string text = absl::StrCat(plugin, ": ", j["msg"].get<std::string>());
    if (j.contains("details") && j["details"].is_string() &&
        !j["details"].get<std::string>().empty()) {
      absl::StrAppend(&text, ": ", j["details"].get<std::string>());
    }
    return text;
  }
  std::string trimmed = output.substr(0, 2000);
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.pop_back();
  return absl::StrCat(plugin, " exited with code ", exit_code,
                      trimmed.empty() ? "" : absl::StrCat(": ", trimmed));
}

ProcessCniExec::ProcessCniExec(std::vector<std::string> plugin_dirs, std::string host_netns,
                               absl::Duration timeout)
    : plugin_dirs_(std::move(plugin_dirs)), host_netns_(std::move(host_netns)), timeout_(timeout) {}

absl::StatusOr<std::string> FindPlugin(const std::vector<std::string>& dirs,
                                       const std::string& plugin) {
  for (const auto& dir : dirs) {
    std::string candidate = absl::StrCat(dir, "/", plugin);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "CNI plugin ", plugin, " not found in ", absl::StrJoin(dirs, ":"),
      "; install containernetworking-plugins (deploy/install-deps.sh) or set --cni-plugin-dir"));
}

absl::StatusOr<std::string> ProcessCniExec::Run(const CniCall& call) {
  auto path = FindPlugin(plugin_dirs_, call.plugin);
  if (!path.ok()) return path.status();
  ProcessRun run;
  run.path = *std::move(path);
  run.env = {absl::StrCat("CNI_COMMAND=", call.command),
             absl::StrCat("CNI_CONTAINERID=", call.container_id),
             absl::StrCat("CNI_NETNS=", call.netns),
             absl::StrCat("CNI_IFNAME=", call.ifname),
             absl::StrCat("CNI_PATH=", absl::StrJoin(plugin_dirs_, ":")),
             "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  run.input = call.config;
  run.netns = host_netns_;
  run.timeout = timeout_;
  auto result = RunProcess(run);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("CNI plugin ", call.plugin, " ", call.command, ": ",
                                     result.status().message()));
  }
  if (result->exit_code != 0) {
    return absl::InternalError(CniErrorText(call.plugin, result->output, result->exit_code));
  }
  return std::move(result->output);
}

}  // namespace gantry::agent
