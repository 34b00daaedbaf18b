#include "ctl/network_output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/network_rules.h"
#include "ctl/output.h"

namespace gantry::ctl {

void PrintNetworkAcls(std::ostream& out, const std::vector<gantry::v1::NetworkAcl>& acls) {
  Table t({"NAME", "DIRECTION", "RULE", "UPDATED"});
  for (const auto& acl : acls) {
    bool first = true;
    for (const bool ingress : {true, false}) {
      for (const auto& r : spec::SortedRules(ingress ? acl.ingress() : acl.egress())) {
        t.Add({first ? acl.name() : "", ingress ? "ingress" : "egress",
               spec::DescribeAclRule(r, ingress), first ? When(acl.updated_at()) : ""});
        first = false;
      }
    }
  }
  t.Print(out);
}

void DescribeIngress(std::ostream& out, const IngressView& v) {
  auto count = [&](const std::string& service) {
    auto it = v.task_addresses.find(service);
    if (it == v.task_addresses.end()) return std::string("task addresses not readable");
    const int n = it->second;
    return absl::StrCat(n, n == 1 ? " task address" : " task addresses");
  };
  out << "Ingress (tasks with networkMode task; default deny, replies allowed):\n";
  for (const auto& r : spec::EffectiveIngress(v.service)) {
    if (r.from_service() == v.service.name() && r.protocol() == "all" && r.ports().empty() &&
        r.cidr().empty()) {
      out << "  all from its own tasks (" << count(r.from_service()) << ")\n";
      continue;
    }
    out << "  " << spec::DescribeIngressRule(r);
    if (!r.from_service().empty()) out << " (" << count(r.from_service()) << ")";
    out << "\n";
  }
  if (!v.published.empty()) {
    out << "  tcp " << absl::StrJoin(v.published, ",")
        << " from anywhere, through the published host ports\n";
  }
  if (!v.acls_error.empty()) {
    out << "Network ACLs: cannot list them: " << v.acls_error << "\n";
    return;
  }
  if (v.acls.empty()) return;
  out << "Network ACLs (every task, before the rules above; stateless):\n";
  Table t({"ACL", "DIRECTION", "RULE"});
  for (const auto& acl : v.acls) {
    for (const bool ingress : {true, false}) {
      for (const auto& r : spec::SortedRules(ingress ? acl.ingress() : acl.egress())) {
        t.Add({acl.name(), ingress ? "ingress" : "egress", spec::DescribeAclRule(r, ingress)});
      }
    }
  }
  t.Print(out, "  ");
}

}  // namespace gantry::ctl
