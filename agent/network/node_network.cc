#include "agent/network/node_network.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cidr.h"
#include "common/log.h"

namespace gantry::agent {

namespace {

CniNetwork::Options TaskOptions(const NodeNetwork::Options& o) {
  CniNetwork::Options out;
  out.state_dir = absl::StrCat(o.data_dir, "/cni");
  out.netns_dir = absl::StrCat(o.data_dir, "/netns");
  return out;
}

}  // namespace

NodeNetwork::NodeNetwork(Options options)
    : NodeNetwork(options, std::make_unique<ProcessCniExec>(options.plugin_dirs, options.netns),
                  std::make_unique<NodeRoutes>(options.netns),
                  std::make_unique<NodeFirewall>(options.netns)) {}

NodeNetwork::NodeNetwork(Options options, std::unique_ptr<CniExec> exec,
                         std::unique_ptr<NodeRoutes> routes, std::unique_ptr<NodeFirewall> firewall)
    : options_(std::move(options)),
      exec_(std::move(exec)),
      routes_(std::move(routes)),
      firewall_(std::move(firewall)),
      tasks_(TaskOptions(options_), exec_.get()) {}

std::string NodeNetwork::Problem() const {
  for (const char* plugin : {"loopback", "bridge", "host-local", "portmap"}) {
    bool found = false;
    for (const auto& dir : options_.plugin_dirs) {
      found |= access(absl::StrCat(dir, "/", plugin).c_str(), X_OK) == 0;
    }
    if (!found) {
      return absl::StrCat("task networking: CNI plugin ", plugin, " not found in ",
                          absl::StrJoin(options_.plugin_dirs, ":"),
                          "; install containernetworking-plugins (deploy/install-deps.sh)");
    }
  }
  if (!options_.netns.empty() && access(options_.netns.c_str(), R_OK) != 0) {
    return absl::StrCat("task networking: the node's network namespace ", options_.netns,
                        " cannot be opened (--netns)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  return firewall_error_;
}

void NodeNetwork::OnRegistered(const gantry::v1::Registered& r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!r.task_subnet().empty() && r.task_subnet() != tasks_.subnet()) {
    spdlog::info("task subnet {} (task CIDR {})", r.task_subnet(), r.task_cidr());
    tasks_.SetSubnet(r.task_subnet());
  }
  auto cidr = ParseIpv4Cidr(r.task_cidr());
  if (cidr.ok()) cidr_ = *cidr;
  {
    std::lock_guard<std::mutex> routes_lock(routes_mu_);
    routes_applied_ = false;  // a new session: make sure once more
  }
  if (firewall_ != nullptr && cidr.ok() && !r.task_subnet().empty()) {
    auto st = firewall_->Apply(r.task_subnet(), r.task_cidr());
    firewall_error_ = st.ok() ? "" : absl::StrCat("task networking: ", st.message());
    if (!st.ok()) spdlog::warn("{}", firewall_error_);
  }
}

std::vector<Route> UsableRoutes(const gantry::v1::DesiredTasks& desired, const Ipv4Cidr& cidr,
                                const std::string& own_subnet, const std::string& node_address) {
  const auto own = ParseIpv4Cidr(own_subnet);
  std::vector<Route> out;
  for (const auto& r : desired.routes()) {
    const auto via = ParseIpv4(r.via());
    const auto subnet = ParseIpv4Cidr(r.subnet());
    // Nodes sharing this namespace (the same or a loopback address) have
    // their subnets on the bridge already; a route must never cover this
    // node's own subnet; IPv6 node addresses cannot carry IPv4 routes.
    if (!via || !subnet.ok() || r.via() == node_address || (*via >> 24) == 127 ||
        !cidr.Contains(subnet->base) || (own.ok() && own->Overlaps(*subnet))) {
      continue;
    }
    out.push_back({subnet->ToString(), r.via()});
  }
  return out;
}

void NodeNetwork::OnDesired(const gantry::v1::DesiredTasks& desired) {
  std::optional<Ipv4Cidr> cidr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cidr = cidr_;
  }
  if (routes_ == nullptr || !cidr) return;
  std::vector<Route> wanted = UsableRoutes(desired, *cidr, tasks_.subnet(), options_.node_address);
  // Only the session thread gets here; `ip` runs without blocking Problem().
  std::lock_guard<std::mutex> lock(routes_mu_);
  if (routes_applied_ && wanted == applied_) return;
  if (auto st = routes_->Apply(wanted, *cidr); !st.ok()) {
    spdlog::warn("routes to other nodes' tasks: {} (tried again with the next desired set)",
                 st.message());
    routes_applied_ = false;
    return;
  }
  applied_ = std::move(wanted);
  routes_applied_ = true;
}

}  // namespace gantry::agent
