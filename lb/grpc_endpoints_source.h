#pragma once

// Reads endpoints from the control plane's OperatorService.ListEndpoints
// over gRPC (TLS unless the control plane is on loopback), each call with a
// deadline so an unresponsive control plane is an error, not a hang.
//
// Thread-safe (the gRPC stub is).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls.h"
#include "gantry/v1/operator.grpc.pb.h"
#include "lb/endpoints_source.h"

namespace gantry::lb {

class GrpcEndpointsSource final : public EndpointsSource {
 public:
  // An error only for unusable TLS files; the control plane need not be up.
  static absl::StatusOr<std::unique_ptr<GrpcEndpointsSource>> Connect(
      const std::string& controlplane, const TlsFiles& tls, const std::string& token);

  absl::StatusOr<gantry::v1::ListEndpointsResponse> List() override;

 private:
  explicit GrpcEndpointsSource(std::unique_ptr<gantry::v1::OperatorService::Stub> stub)
      : stub_(std::move(stub)) {}

  const std::unique_ptr<gantry::v1::OperatorService::Stub> stub_;
};

}  // namespace gantry::lb
