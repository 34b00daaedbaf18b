// Apply requests as the control plane receives them from any gRPC client:
// protobuf bytes, parsed and validated the way the API does before anything
// is written.

#include <cstddef>
#include <cstdint>

#include "common/spec/network_rules.h"
#include "common/spec/validation.h"
#include "gantry/v1/operator.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gantry::v1::ApplyRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  for (auto td : request.task_definitions()) {
    gantry::spec::ApplyDefaults(td);
    (void)gantry::spec::ValidateTaskDefinition(td);
  }
  for (const auto& s : request.services()) (void)gantry::spec::ValidateService(s);
  for (const auto& acl : request.network_acls()) (void)gantry::spec::ValidateNetworkAcl(acl);
  return 0;
}
