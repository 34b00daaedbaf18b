#include "agent/network/firewall_rules.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cidr.h"
#include "common/spec/network_rules.h"

namespace gantry::agent {

namespace {

// "tcp dport { 80, 443 } ", "meta l4proto udp ", "" for every protocol;
// nullopt when the rule cannot be written (a port out of range).
std::optional<std::string> PortMatch(const std::string& protocol,
                                     const google::protobuf::RepeatedField<uint32_t>& ports) {
  const std::string proto = spec::ProtocolOf(protocol, ports.size());
  if (proto == "all") return ports.empty() ? std::optional<std::string>("") : std::nullopt;
  if (proto != "tcp" && proto != "udp") return std::nullopt;
  if (ports.empty()) return absl::StrCat("meta l4proto ", proto, " ");
  for (uint32_t p : ports) {
    if (p == 0 || p > 65535) return std::nullopt;
  }
  return absl::StrCat(proto, " dport { ", absl::StrJoin(ports, ", "), " } ");
}

std::optional<std::string> Cidr(const std::string& text) {
  auto parsed = ParseIpv4Cidr(text);
  if (!parsed.ok()) return std::nullopt;
  return parsed->ToString();
}

class Script {
 public:
  void Line(const std::string& text) { absl::StrAppend(&out_, "  ", text, "\n"); }
  void Chain(const std::string& name, const std::vector<std::string>& rules) {
    absl::StrAppend(&out_, "  chain ", name, " {\n");
    for (const auto& r : rules) absl::StrAppend(&out_, "    ", r, "\n");
    absl::StrAppend(&out_, "  }\n");
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// The chain of one ACL direction: deny drops, allow returns (the packet
// goes on to the next ACL, then the service rules).
std::vector<std::string> AclChain(const gantry::v1::NetworkAcl& acl, bool ingress) {
  std::vector<std::string> rules;
  for (const auto& r : spec::SortedRules(ingress ? acl.ingress() : acl.egress())) {
    const auto cidr = Cidr(r.cidr());
    const auto ports = PortMatch(r.protocol(), r.ports());
    const char* match = ingress ? "ip saddr " : "ip daddr ";
    if (r.action() == "allow" && cidr && ports) {
      rules.push_back(absl::StrCat(match, *cidr, " ", *ports, "return"));
    } else if (r.action() == "allow") {
      continue;  // an allow this agent cannot read opens nothing
    } else if (cidr) {
      // A deny (or an unknown action) it cannot read in full denies more.
      rules.push_back(absl::StrCat(match, *cidr, " ", ports.value_or(""), "drop"));
    } else {
      rules.push_back("drop");
    }
  }
  return rules;
}

}  // namespace

std::string RemoveTableScript(const std::string& table) {
  // "add" first makes the delete safe when the table is not there.
  return absl::StrCat("add table ip ", table, "\ndelete table ip ", table, "\n");
}

absl::StatusOr<std::string> RulesetFor(const FirewallConfig& c) {
  auto plain = [](const std::string& name) {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '_';
    });
  };
  if (!plain(c.table) || !plain(c.bridge)) {
    return absl::InvalidArgumentError(absl::StrCat("firewall: \"", c.table, "\" or \"", c.bridge,
                                                   "\" is not a table or bridge name"));
  }
  const std::string bridge = absl::StrCat("\"", c.bridge, "\"");
  const auto subnet_cidr = ParseIpv4Cidr(c.subnet);
  const auto task_cidr = ParseIpv4Cidr(c.task_cidr);
  if (!subnet_cidr.ok() || !task_cidr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("firewall: \"", c.subnet, "\" or \"", c.task_cidr, "\" is not a CIDR block"));
  }
  const std::string subnet = subnet_cidr->ToString();
  Script s;

  // Address sets, one per service a rule names, by index.
  std::map<std::string, std::string> set_names;
  std::vector<std::pair<std::string, std::vector<std::string>>> sets;
  for (const auto& a : c.addresses) {
    if (set_names.contains(a.service())) continue;
    std::set<std::string> members;
    for (const auto& address : a.addresses()) {
      if (auto ip = ParseIpv4(address)) members.insert(FormatIpv4(*ip));
    }
    const std::string name = absl::StrCat("from_", sets.size());
    set_names[a.service()] = name;
    sets.emplace_back(name, std::vector<std::string>(members.begin(), members.end()));
  }
  for (const auto& [name, members] : sets) {
    s.Line(members.empty() ? absl::StrCat("set ", name, " { type ipv4_addr; }")
                           : absl::StrCat("set ", name, " { type ipv4_addr; elements = { ",
                                          absl::StrJoin(members, ", "), " } }"));
  }

  s.Chain("postrouting", {"type nat hook postrouting priority srcnat; policy accept;",
                          absl::StrCat("ip saddr ", subnet, " ip daddr != ", task_cidr->ToString(),
                                       " masquerade")});
  // By the bridge as well as by the subnet: a task keeps its rules with
  // an address from an earlier subnet of the node.
  s.Chain("input",
          {"type filter hook input priority filter; policy accept;",
           absl::StrCat("iifname ", bridge, " ct state established,related accept"),
           absl::StrCat("ip saddr ", subnet, " ct state established,related accept"),
           absl::StrCat("iifname ", bridge, " drop"), absl::StrCat("ip saddr ", subnet, " drop")});
  s.Chain("forward", {"type filter hook forward priority filter; policy accept;",
                      absl::StrCat("iifname ", bridge, " jump from_tasks"),
                      absl::StrCat("ip saddr ", subnet, " jump from_tasks"),
                      absl::StrCat("oifname ", bridge, " jump to_tasks"),
                      absl::StrCat("ip daddr ", subnet, " jump to_tasks")});

  // Network ACLs, by name (the control plane sends them sorted).
  std::vector<std::string> from_tasks, to_tasks;
  for (size_t i = 0; i < c.network_acls.size(); ++i) {
    const std::string in = absl::StrCat("acl_", i, "_in"), out = absl::StrCat("acl_", i, "_out");
    s.Chain(in, AclChain(c.network_acls[i], true));
    s.Chain(out, AclChain(c.network_acls[i], false));
    to_tasks.push_back(absl::StrCat("jump ", in));
    from_tasks.push_back(absl::StrCat("jump ", out));
  }
  s.Chain("from_tasks", from_tasks);

  // Each service's rules, by index.
  std::map<std::string, std::string> service_chains;
  for (const auto& ingress : c.ingress) {
    if (service_chains.contains(ingress.service())) continue;
    const std::string name = absl::StrCat("service_", service_chains.size());
    service_chains[ingress.service()] = name;
    std::vector<std::string> rules;
    for (const auto& r : ingress.rules()) {
      const auto ports = PortMatch(r.protocol(), r.ports());
      if (!ports) continue;
      std::string source;
      if (!r.from_service().empty()) {
        auto set = set_names.find(r.from_service());
        if (set == set_names.end()) continue;  // no addresses known: matches nothing
        source = absl::StrCat("@", set->second);
      } else if (auto cidr = Cidr(r.cidr())) {
        source = *cidr;
      } else {
        continue;
      }
      rules.push_back(absl::StrCat("ip saddr ", source, " ", *ports, "accept"));
    }
    rules.push_back("drop");
    s.Chain(name, rules);
  }

  // Two tasks with one address (a lease reused while a record lingers):
  // neither chain can be right, and nft refuses a map with a repeated key.
  std::map<std::string, int> uses;
  for (const auto& t : c.tasks) {
    if (auto ip = ParseIpv4(t.address)) ++uses[FormatIpv4(*ip)];
  }
  std::vector<std::string> vmap;
  std::set<std::string> mapped;
  for (size_t i = 0; i < c.tasks.size(); ++i) {
    const auto& t = c.tasks[i];
    const auto ip = ParseIpv4(t.address);
    if (!ip || !subnet_cidr->Contains(*ip)) continue;
    const std::string address = FormatIpv4(*ip);
    if (uses[address] > 1) {
      if (mapped.insert(address).second) vmap.push_back(absl::StrCat(address, " : drop"));
      continue;
    }
    const std::string name = absl::StrCat("task_", i);
    std::vector<std::string> rules;
    std::set<uint32_t> published;
    for (uint32_t p : t.published) {
      if (p > 0 && p <= 65535) published.insert(p);
    }
    if (!published.empty()) {
      // Only connections that came in through a host port (portmap's
      // DNAT), not straight to the task's address.
      rules.push_back(
          absl::StrCat("ct status dnat tcp dport { ", absl::StrJoin(published, ", "), " } accept"));
    }
    auto chain = service_chains.find(t.service);
    rules.push_back(chain == service_chains.end() ? "drop" : absl::StrCat("goto ", chain->second));
    s.Chain(name, rules);
    vmap.push_back(absl::StrCat(address, " : goto ", name));
  }
  to_tasks.push_back("ct state established,related accept");
  to_tasks.push_back("ct state invalid drop");
  if (!vmap.empty()) {
    to_tasks.push_back(absl::StrCat("ip daddr vmap { ", absl::StrJoin(vmap, ", "), " }"));
  }
  to_tasks.push_back("drop");
  s.Chain("to_tasks", to_tasks);

  return absl::StrCat(RemoveTableScript(c.table), "table ip ", c.table, " {\n", s.Take(), "}\n");
}

}  // namespace gantry::agent
