#pragma once

// Reads the network rules of `gantryctl apply`: a service's `ingress`
//
//   ingress:
//     - {fromService: api, ports: [5432]}      # tasks of service api
//     - {cidr: 10.79.0.0/24, protocol: tcp, ports: [9187]}
//
// and `kind: NetworkAcl` documents
//
//   kind: NetworkAcl
//   name: no-metadata
//   egress:
//     - {number: 100, action: deny, cidr: 169.254.0.0/16}
//   ingress:
//     - {number: 100, action: deny, cidr: 10.66.0.0/16, ports: [22]}
//
// Only the shape is read here; what the values may be is
// spec/network_rules.h's, which spec_parser.cc runs next.

#include "ctl/yaml_doc.h"
#include "gantry/v1/types.pb.h"

namespace gantry::ctl {

void ParseIngress(Doc& doc, const YAML::Node& n, gantry::v1::Service& service);
void ParseNetworkAcl(Doc& doc, const YAML::Node& n, gantry::v1::NetworkAcl& acl);

}  // namespace gantry::ctl
