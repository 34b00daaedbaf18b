#pragma once

// A streaming reactor that ends its call at once with a status: what a
// streaming handler returns for a caller it refuses (not authenticated, not
// authorized, bad request), so that no stream state is ever built for it.

#include <utility>

#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace gantry::api {

// Reactor: grpc::ServerWriteReactor<T>, grpc::ServerBidiReactor<In, Out>, ...
template <typename Reactor>
class RefusedReactor final : public Reactor {
 public:
  explicit RefusedReactor(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace gantry::api
