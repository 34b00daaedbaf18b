#pragma once

// A Store that forwards to a real one but lets a test step in where a
// remote, shared store differs from an in-process one:
//  - before_next_txn: slip a write in just before the next transaction
//    (what another control plane does between our read and our CAS);
//  - HoldWatchEvents(): watch events queue up instead of being delivered
//    (a watch that lags behind the store), until ReleaseWatchEvents();
//  - Resync(): hand every watch a fresh listing, as a remote store's watch
//    does after it lost history.

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "controlplane/store/store.h"

namespace gantry::testing {

class ForwardingStore final : public store::Store {
 public:
  explicit ForwardingStore(store::Store* inner) : inner_(inner) {}

  std::function<void()> before_next_txn;
  std::function<void(absl::string_view key)> on_get;

  absl::StatusOr<std::optional<store::KeyValue>> Get(absl::string_view key) override {
    if (on_get) on_get(key);
    return inner_->Get(key);
  }
  absl::StatusOr<store::RangeResult> Range(absl::string_view prefix) override {
    return inner_->Range(prefix);
  }
  absl::StatusOr<store::TxnResult> Txn(const store::TxnRequest& request) override {
    if (auto hook = std::exchange(before_next_txn, nullptr)) hook();
    ++txns;
    return inner_->Txn(request);
  }
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> Watch(absl::string_view prefix,
                                                            int64_t after_revision,
                                                            store::WatchCallback callback,
                                                            store::ResyncCallback resync) override {
    watchers_.push_back({std::string(prefix), resync});
    auto shared = std::make_shared<store::WatchCallback>(std::move(callback));
    return inner_->Watch(prefix, after_revision,
                         [this, shared](int64_t rev, const std::vector<store::Event>& events) {
                           {
                             std::lock_guard<std::mutex> lock(mu_);
                             if (holding_) {
                               held_.push_back([shared, rev, events] { (*shared)(rev, events); });
                               return;
                             }
                           }
                           (*shared)(rev, events);
                         });
  }
  int64_t Revision() override { return inner_->Revision(); }
  store::TxnLimits Limits() const override { return limits; }
  // What Limits() reports (the inner store's are not enforced here).
  store::TxnLimits limits;
  int txns = 0;  // transactions forwarded

  void HoldWatchEvents() {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = true;
  }
  void ReleaseWatchEvents() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      holding_ = false;
      held.swap(held_);
    }
    for (auto& deliver : held) deliver();
  }
  // Every watch with a resync callback gets a fresh listing of its prefix.
  void Resync() {
    for (const auto& w : watchers_) {
      if (!w.resync) continue;
      auto listing = inner_->Range(w.prefix);
      if (listing.ok()) w.resync(*listing);
    }
  }

 private:
  struct Watcher {
    std::string prefix;
    store::ResyncCallback resync;
  };
  store::Store* const inner_;
  std::vector<Watcher> watchers_;
  std::mutex mu_;
  bool holding_ = false;
  std::vector<std::function<void()>> held_;
};

}  // namespace gantry::testing
