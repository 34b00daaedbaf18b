#pragma once

// How gantryctl shows network rules: `get networkacls` and the "Ingress"
// part of `describe service` (what its tasks accept, as the agents
// enforce it).

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "gantry/v1/operator.pb.h"

namespace gantry::ctl {

void PrintNetworkAcls(std::ostream& out, const std::vector<gantry::v1::NetworkAcl>& acls);

struct IngressView {
  gantry::v1::Service service;
  std::vector<uint32_t> published;            // container ports its tasks publish
  std::map<std::string, int> task_addresses;  // per fromService (and itself)
  std::vector<gantry::v1::NetworkAcl> acls;
  std::string acls_error;  // why they could not be listed, if they could not
};

void DescribeIngress(std::ostream& out, const IngressView& view);

}  // namespace gantry::ctl
