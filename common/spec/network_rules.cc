#include "common/spec/network_rules.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cidr.h"

namespace gantry::spec {

using gantry::v1::IngressRule;
using gantry::v1::NetworkAclRule;

namespace {

// Problems shared by both kinds of rule: protocol, ports and CIDR.
void CheckMatch(const std::string& path, const std::string& protocol,
                const google::protobuf::RepeatedField<uint32_t>& ports, const std::string& cidr,
                bool cidr_required, std::vector<FieldError>& errors) {
  if (!protocol.empty() && protocol != "tcp" && protocol != "udp" && protocol != "all") {
    errors.push_back({absl::StrCat(path, ".protocol"),
                      absl::StrCat("\"", protocol, "\" is not tcp, udp or all")});
  }
  if (protocol == "all" && !ports.empty()) {
    errors.push_back({absl::StrCat(path, ".ports"),
                      "ports need protocol tcp or udp (protocol all means every port)"});
  }
  if (ports.size() > kMaxRulePorts) {
    errors.push_back({absl::StrCat(path, ".ports"),
                      absl::StrCat("at most ", kMaxRulePorts, " ports, got ", ports.size())});
  }
  std::set<uint32_t> seen;
  for (int i = 0; i < ports.size(); ++i) {
    const uint32_t port = ports.Get(i);
    if (port == 0 || port > 65535) {
      errors.push_back(
          {absl::StrCat(path, ".ports[", i, "]"), absl::StrCat("must be 1..65535, got ", port)});
    } else if (!seen.insert(port).second) {
      errors.push_back({absl::StrCat(path, ".ports[", i, "]"), absl::StrCat(port, " twice")});
    }
  }
  if (cidr.empty()) {
    if (cidr_required) errors.push_back({absl::StrCat(path, ".cidr"), "required"});
  } else if (auto parsed = ParseIpv4Cidr(cidr); !parsed.ok()) {
    errors.push_back({absl::StrCat(path, ".cidr"), std::string(parsed.status().message())});
  }
}

std::string PortsText(const std::string& protocol,
                      const google::protobuf::RepeatedField<uint32_t>& ports) {
  const std::string proto = ProtocolOf(protocol, ports.size());
  if (ports.empty()) return proto == "all" ? "all" : absl::StrCat(proto, " all ports");
  return absl::StrCat(proto, " ", absl::StrJoin(ports, ","));
}

void ValidateAclRules(const std::string& list,
                      const google::protobuf::RepeatedPtrField<NetworkAclRule>& rules,
                      std::vector<FieldError>& errors) {
  std::set<int> numbers;
  for (int i = 0; i < rules.size(); ++i) {
    const auto& r = rules.Get(i);
    const std::string path = absl::StrCat(list, "[", i, "]");
    if (r.number() < 1 || r.number() > 32766) {
      errors.push_back(
          {absl::StrCat(path, ".number"), absl::StrCat("must be 1..32766, got ", r.number())});
    } else if (!numbers.insert(r.number()).second) {
      errors.push_back(
          {absl::StrCat(path, ".number"), absl::StrCat(r.number(), " is used twice in ", list)});
    }
    if (r.action() != "allow" && r.action() != "deny") {
      errors.push_back({absl::StrCat(path, ".action"),
                        absl::StrCat("\"", r.action(), "\" is not allow or deny")});
    }
    CheckMatch(path, r.protocol(), r.ports(), r.cidr(), true, errors);
  }
}

}  // namespace

std::string ProtocolOf(const std::string& protocol, int port_count) {
  if (!protocol.empty()) return protocol;
  return port_count > 0 ? "tcp" : "all";
}

void ValidateIngress(const gantry::v1::Service& service, std::vector<FieldError>& errors) {
  if (service.ingress_size() > kMaxIngressRules) {
    errors.push_back({"ingress", absl::StrCat("at most ", kMaxIngressRules, " rules, got ",
                                              service.ingress_size())});
    return;
  }
  for (int i = 0; i < service.ingress_size(); ++i) {
    const auto& r = service.ingress(i);
    const std::string path = absl::StrCat("ingress[", i, "]");
    if (r.from_service().empty() == r.cidr().empty()) {
      errors.push_back({path, "give exactly one of fromService and cidr"});
      continue;
    }
    if (!r.from_service().empty()) {
      // A service name: a DNS label (the service need not exist yet).
      const auto& name = r.from_service();
      const bool ok =
          name.size() <= 63 && !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
          });
      if (!ok) {
        errors.push_back({absl::StrCat(path, ".fromService"),
                          absl::StrCat("\"", name, "\" is not a service name")});
      }
    }
    CheckMatch(path, r.protocol(), r.ports(), r.cidr(), false, errors);
  }
}

std::vector<FieldError> ValidateNetworkAcl(const gantry::v1::NetworkAcl& acl) {
  std::vector<FieldError> errors;
  const auto& name = acl.name();
  if (name.empty()) {
    errors.push_back({"name", "required"});
  } else if (name.size() > 63 || !std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
             })) {
    errors.push_back({"name", absl::StrCat("\"", name,
                                           "\" may contain only lowercase letters, digits, '-' "
                                           "and '_' (at most 63)")});
  }
  if (acl.ingress_size() + acl.egress_size() > kMaxAclRules) {
    errors.push_back({"ingress", absl::StrCat("at most ", kMaxAclRules, " rules in all, got ",
                                              acl.ingress_size() + acl.egress_size())});
    return errors;
  }
  if (acl.ingress().empty() && acl.egress().empty()) {
    errors.push_back({"ingress", "an ACL needs at least one rule in ingress or egress"});
  }
  ValidateAclRules("ingress", acl.ingress(), errors);
  ValidateAclRules("egress", acl.egress(), errors);
  return errors;
}

std::vector<IngressRule> EffectiveIngress(const gantry::v1::Service& service) {
  std::vector<IngressRule> out;
  IngressRule own;
  own.set_from_service(service.name());
  own.set_protocol("all");
  out.push_back(own);
  for (const auto& r : service.ingress()) {
    IngressRule rule = r;
    rule.set_protocol(ProtocolOf(r.protocol(), r.ports_size()));
    out.push_back(std::move(rule));
  }
  return out;
}

std::vector<NetworkAclRule> SortedRules(
    const google::protobuf::RepeatedPtrField<NetworkAclRule>& rules) {
  std::vector<NetworkAclRule> out(rules.begin(), rules.end());
  std::stable_sort(out.begin(), out.end(), [](const NetworkAclRule& a, const NetworkAclRule& b) {
    return a.number() < b.number();
  });
  return out;
}

std::string DescribeIngressRule(const IngressRule& rule) {
  return absl::StrCat(
      PortsText(rule.protocol(), rule.ports()), " from ",
      rule.from_service().empty() ? rule.cidr() : absl::StrCat("service ", rule.from_service()));
}

std::string DescribeAclRule(const NetworkAclRule& rule, bool ingress) {
  return absl::StrCat(rule.number(), " ", rule.action(), " ",
                      PortsText(rule.protocol(), rule.ports()), ingress ? " from " : " to ",
                      rule.cidr());
}

}  // namespace gantry::spec
