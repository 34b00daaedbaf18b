#pragma once

// Streams a serialized StoreSnapshot to the caller in chunks of 1 MiB, one
// write at a time, and finishes the call once the last one is sent.

#include <string>
#include <utility>

#include "gantry/v1/operator.grpc.pb.h"
#include "grpcpp/support/server_callback.h"

namespace gantry::api {

class SnapshotReactor final : public grpc::ServerWriteReactor<gantry::v1::SnapshotChunk> {
 public:
  // `slot` is held until the stream ends (CallerLimits).
  SnapshotReactor(std::string bytes, std::shared_ptr<void> slot)
      : bytes_(std::move(bytes)), slot_(std::move(slot)) {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  static constexpr size_t kChunk = 1 << 20;

  void Next() {
    if (offset_ >= bytes_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.set_data(bytes_.substr(offset_, kChunk));
    offset_ += kChunk;
    StartWrite(&chunk_);
  }

  const std::string bytes_;
  size_t offset_ = 0;
  gantry::v1::SnapshotChunk chunk_;
  std::shared_ptr<void> slot_;
};

}  // namespace gantry::api
