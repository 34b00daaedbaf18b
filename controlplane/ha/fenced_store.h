#pragma once

// The leader's store: once Fence() is called, every transaction also
// requires the leader key to still have the create_revision this replica won
// it with. A leader that was paused or cut off past its lease, and replaced,
// can then write nothing, whatever its threads still believe; etcd itself
// refuses the write. The fence is never lifted: a replica that lost its
// leadership restarts as a follower.
//
// A transaction refused by the fence (and not by its own comparisons) fails
// with FailedPrecondition, so no caller retries it as a conflict.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controlplane/store/store.h"

namespace gantry::ha {

class FencedStore final : public store::Store {
 public:
  explicit FencedStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}

  void Fence(const std::string& leader_key, int64_t epoch);
  store::Store* inner() const { return inner_.get(); }

  absl::StatusOr<std::optional<store::KeyValue>> Get(absl::string_view key) override {
    return inner_->Get(key);
  }
  absl::StatusOr<store::RangeResult> Range(absl::string_view prefix) override {
    return inner_->Range(prefix);
  }
  absl::StatusOr<store::TxnResult> Txn(const store::TxnRequest& request) override;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> Watch(absl::string_view prefix,
                                                            int64_t after_revision,
                                                            store::WatchCallback callback,
                                                            store::ResyncCallback resync) override {
    return inner_->Watch(prefix, after_revision, std::move(callback), std::move(resync));
  }
  int64_t Revision() override { return inner_->Revision(); }
  store::TxnLimits Limits() const override;

 private:
  std::optional<store::Compare> fence() const;

  const std::unique_ptr<store::Store> inner_;
  mutable std::mutex mu_;
  std::optional<store::Compare> fence_;
};

}  // namespace gantry::ha
