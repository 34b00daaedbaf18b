#pragma once

// Security-group rules (a service's `ingress`) and network ACLs
// (`kind: NetworkAcl`): their validation, shared by gantryctl and the
// control plane, and the effective rules the control plane hands agents.
// Pure.

#include <string>
#include <vector>

#include "common/spec/validation.h"
#include "gantry/v1/types.pb.h"

namespace gantry::spec {

inline constexpr int kMaxIngressRules = 64;
inline constexpr int kMaxAclRules = 256;
inline constexpr int kMaxRulePorts = 64;

// "tcp", "udp" or "all": what a rule says, or its default ("tcp" with
// ports, "all" without).
std::string ProtocolOf(const std::string& protocol, int port_count);

// Appends problems with `service.ingress` (fields "ingress[i].cidr"...).
void ValidateIngress(const gantry::v1::Service& service, std::vector<FieldError>& errors);
std::vector<FieldError> ValidateNetworkAcl(const gantry::v1::NetworkAcl& acl);

// What the service's tasks accept, as the agents enforce it: every
// protocol and port from the service's own tasks, then its own rules with
// their protocols spelled out. (Published ports are the agent's to add: it
// knows each task's.)
std::vector<gantry::v1::IngressRule> EffectiveIngress(const gantry::v1::Service& service);

// The ACL's rules of one direction, lowest number first.
std::vector<gantry::v1::NetworkAclRule> SortedRules(
    const google::protobuf::RepeatedPtrField<gantry::v1::NetworkAclRule>& rules);

// One line per rule for people: "tcp 5432 from service api",
// "all from 10.79.0.0/24", "100 deny tcp 22 from 10.0.0.0/8".
std::string DescribeIngressRule(const gantry::v1::IngressRule& rule);
std::string DescribeAclRule(const gantry::v1::NetworkAclRule& rule, bool ingress);

}  // namespace gantry::spec
