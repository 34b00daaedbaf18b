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
  out.manage_namespaces = o.manage_namespaces;
  out.network_name = o.name;
  out.bridge = absl::StrCat(o.name, "0");
  return out;
}

}  // namespace

NodeNetwork::NodeNetwork(Options options)
    : NodeNetwork(options, std::make_unique<ProcessCniExec>(options.plugin_dirs, options.netns),
                  std::make_unique<NodeRoutes>(options.netns),
                  std::make_unique<NodeFirewall>(options.netns, options.name)) {}

NodeNetwork::NodeNetwork(Options options, std::unique_ptr<CniExec> exec,
                         std::unique_ptr<NodeRoutes> routes, std::unique_ptr<NodeFirewall> firewall)
    : options_(std::move(options)),
      exec_(std::move(exec)),
      routes_(std::move(routes)),
      firewall_(std::move(firewall)),
      tasks_(TaskOptions(options_), exec_.get()) {}

std::string NodeNetwork::Problem() const {
  for (const char* plugin : {"loopback", "bridge", "host-local", "portmap"}) {
    if (auto found = FindPlugin(options_.plugin_dirs, plugin); !found.ok()) {
      return absl::StrCat("task networking: ", found.status().message());
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!r.task_subnet().empty() && r.task_subnet() != tasks_.subnet()) {
      spdlog::info("task subnet {} (task CIDR {})", r.task_subnet(), r.task_cidr());
      tasks_.SetSubnet(r.task_subnet());
    }
    auto cidr = ParseIpv4Cidr(r.task_cidr());
    if (cidr.ok()) {
      cidr_ = *cidr;
      task_cidr_ = cidr->ToString();
    }
  }
  std::lock_guard<std::mutex> routes_lock(routes_mu_);
  routes_applied_ = false;  // a new session: make sure once more
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
  ApplyRoutes(desired);
  {
    std::lock_guard<std::mutex> firewall_lock(firewall_mu_);  // for attached_; before mu_
    std::lock_guard<std::mutex> lock(mu_);
    have_desired_ = true;
    std::map<std::string, TaskRules> rules;
    for (const auto& a : desired.tasks()) {
      if (a.network_mode() != "task") continue;
      TaskRules& t = rules[a.task_id()];
      t.service = a.service();
      for (const auto& p : a.ports()) {
        if (p.host_port() == 0) continue;
        t.published.push_back(p.container_port() != 0 ? p.container_port() : p.host_port());
      }
    }
    // Tasks still attached but no longer desired (stopping) keep theirs.
    for (auto& [id, t] : task_rules_) {
      if (attached_.contains(id)) rules.try_emplace(id, std::move(t));
    }
    task_rules_ = std::move(rules);
    ingress_.assign(desired.ingress().begin(), desired.ingress().end());
    addresses_.assign(desired.addresses().begin(), desired.addresses().end());
    network_acls_.assign(desired.network_acls().begin(), desired.network_acls().end());
  }
  (void)RefreshFirewall();  // a failure is the node's problem (Problem())
}

void NodeNetwork::ApplyRoutes(const gantry::v1::DesiredTasks& desired) {
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

absl::Status NodeNetwork::RefreshFirewall() {
  if (firewall_ == nullptr) return absl::OkStatus();
  std::lock_guard<std::mutex> firewall_lock(firewall_mu_);
  if (!attached_loaded_) {
    for (const auto& id : tasks_.Attached()) {
      if (auto a = tasks_.Find(id); a && !a->address.empty()) attached_[id] = a->address;
    }
    attached_loaded_ = true;
  }
  FirewallConfig config;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!have_desired_ || task_cidr_.empty()) {
      return absl::UnavailableError(
          "waiting for the node's first desired set (its firewall rules)");
    }
    config.table = options_.name;
    config.bridge = absl::StrCat(options_.name, "0");
    config.subnet = tasks_.subnet();
    config.task_cidr = task_cidr_;
    for (const auto& [id, address] : attached_) {
      FirewallTask t{.address = address};
      if (auto it = task_rules_.find(id); it != task_rules_.end()) {
        t.service = it->second.service;
        t.published = it->second.published;
      }
      config.tasks.push_back(std::move(t));
    }
    config.ingress = ingress_;
    config.addresses = addresses_;
    config.network_acls = network_acls_;
  }
  absl::Status st;
  std::string script;
  if (config.tasks.empty()) {
    script = RemoveTableScript(options_.name);
    if (script != applied_script_) st = firewall_->Remove();
  } else {
    auto rules = RulesetFor(config);
    if (!rules.ok()) return rules.status();
    script = *std::move(rules);
    if (script != applied_script_) st = firewall_->Apply(config, script);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (st.ok()) {
    applied_script_ = std::move(script);
    firewall_error_.clear();
    return absl::OkStatus();
  }
  applied_script_.clear();  // try again next time
  firewall_error_ = absl::StrCat("task networking: ", st.message());
  spdlog::warn("{}", firewall_error_);
  return absl::UnavailableError(firewall_error_);
}

absl::StatusOr<TaskAttachment> NodeNetwork::Firewalled::Attach(
    const std::string& task_id, const std::vector<MappedPort>& ports) {
  auto attached = owner_->tasks_.Attach(task_id, ports);
  if (!attached.ok()) return attached;
  {
    std::lock_guard<std::mutex> lock(owner_->firewall_mu_);
    owner_->attached_[task_id] = attached->address;
  }
  // Its containers start only once its rules are in place: until then
  // the starter waits and tries again (the attachment is kept).
  if (auto st = owner_->RefreshFirewall(); !st.ok()) {
    return absl::UnavailableError(absl::StrCat("task networking: firewall: ", st.message()));
  }
  return attached;
}

absl::Status NodeNetwork::Firewalled::Check(const std::string& task_id) {
  return owner_->tasks_.Check(task_id);
}

absl::Status NodeNetwork::Firewalled::Detach(const std::string& task_id) {
  auto st = owner_->tasks_.Detach(task_id);
  {
    std::lock_guard<std::mutex> lock(owner_->firewall_mu_);
    if (!owner_->tasks_.Find(task_id)) owner_->attached_.erase(task_id);
  }
  (void)owner_->RefreshFirewall();  // a failure is the node's problem (Problem())
  return st;
}

std::vector<std::string> NodeNetwork::Firewalled::Attached() const {
  return owner_->tasks_.Attached();
}

std::optional<TaskAttachment> NodeNetwork::Firewalled::Find(const std::string& task_id) const {
  return owner_->tasks_.Find(task_id);
}

}  // namespace gantry::agent
