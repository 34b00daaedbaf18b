#pragma once

// Reads endpoints from the control plane's OperatorService.ListEndpoints
// over gRPC (TLS always), each call with a deadline so an unresponsive
// control plane is an error, not a hang. With several replicas
// (--controlplane a,b,c) a read that cannot reach one is tried on the next
// at once: any replica answers it.
//
// Thread-safe (the gRPC stubs and Endpoints are).

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/endpoints.h"
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
  using Stubs = std::map<std::string, std::unique_ptr<gantry::v1::OperatorService::Stub>>;
  GrpcEndpointsSource(Endpoints endpoints, Stubs stubs)
      : endpoints_(std::move(endpoints)), stubs_(std::move(stubs)) {}

  Endpoints endpoints_;
  const Stubs stubs_;
};

}  // namespace gantry::lb
