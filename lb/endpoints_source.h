#pragma once

// Where gantry-lb learns what to serve: the control plane's listeners (a
// port per service port and test port) with their weighted backends.
// `GrpcEndpointsSource` asks the control plane; tests use a fake.
//
// Implementations need not be thread-safe: the Balancer asks from one
// thread at a time.

#include "absl/status/statusor.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::lb {

class EndpointsSource {
 public:
  virtual ~EndpointsSource() = default;

  // The endpoints as the control plane sees them now; an error when it
  // cannot be asked (unreachable, refusing, too slow).
  virtual absl::StatusOr<gantry::v1::ListEndpointsResponse> List() = 0;
};

}  // namespace gantry::lb
