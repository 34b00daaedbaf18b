#include "agent/network/node_routes.h"

#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/network/netns_process.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

std::vector<std::vector<std::string>> PlanRoutes(const std::string& existing_json,
                                                 const std::vector<Route>& wanted,
                                                 const Ipv4Cidr& task_cidr) {
  // Gateway routes inside the task CIDR, as they are now.
  std::map<std::string, std::string> have;
  nlohmann::json routes = nlohmann::json::parse(existing_json, nullptr, false);
  if (routes.is_array()) {
    for (const auto& r : routes) {
      if (!r.contains("dst") || !r["dst"].is_string() || !r.contains("gateway")) continue;
      const auto dst = ParseIpv4Cidr(r["dst"].get<std::string>());
      if (!dst.ok() || !task_cidr.Contains(dst->base)) continue;
      have[dst->ToString()] = r["gateway"].get<std::string>();
    }
  }
  std::vector<std::vector<std::string>> plan;
  std::map<std::string, bool> keep;
  for (const Route& w : wanted) {
    keep[w.subnet] = true;
    auto h = have.find(w.subnet);
    if (h == have.end() || h->second != w.via) {
      plan.push_back({"route", "replace", w.subnet, "via", w.via});
    }
  }
  for (const auto& [subnet, via] : have) {
    if (!keep.contains(subnet)) plan.push_back({"route", "del", subnet});
  }
  return plan;
}

NodeRoutes::NodeRoutes(std::string netns, std::string ip_path)
    : netns_(std::move(netns)), ip_path_(std::move(ip_path)) {
  if (ip_path_.empty()) {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
      if (access(p, X_OK) == 0) {
        ip_path_ = p;
        break;
      }
    }
  }
}

absl::StatusOr<std::string> NodeRoutes::Ip(const std::vector<std::string>& args) {
  if (ip_path_.empty()) {
    return absl::FailedPreconditionError("ip (iproute2) not found; install iproute2");
  }
  ProcessRun run;
  run.path = ip_path_;
  run.args = args;
  run.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  run.netns = netns_;
  run.timeout = absl::Seconds(10);
  auto result = RunProcess(run);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("ip ", absl::StrJoin(args, " "), " failed (exit ", result->exit_code, ")"));
  }
  return std::move(result->output);
}

absl::Status NodeRoutes::Apply(const std::vector<Route>& wanted, const Ipv4Cidr& task_cidr) {
  auto existing = Ip({"-j", "-4", "route", "show"});
  if (!existing.ok()) return existing.status();
  // One bad route does not hold back the others.
  absl::Status first;
  for (const auto& args : PlanRoutes(*existing, wanted, task_cidr)) {
    if (auto out = Ip(args); !out.ok()) first.Update(out.status());
  }
  return first;
}

}  // namespace gantry::agent
