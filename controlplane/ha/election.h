#pragma once

// Who leads. Every replica serves the operator API; only the leader runs
// what acts on the cluster (controllers, node manager and agent streams,
// autoscaler, alarms, image pinning, garbage collection).
//
// Term.epoch fences the leader's writes (FencedStore) and goes to agents
// with each desired set, so neither the store nor an agent takes orders
// from a leader that was replaced. Leadership is never handed back within a
// process: `lost` is called once and the replica restarts as a follower.

#include <atomic>
#include <functional>
#include <optional>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gantry/v1/types.pb.h"

namespace gantry::ha {

struct Term {
  int64_t epoch = 0;
  absl::Time since;
};

class Election {
 public:
  using Elected = std::function<void(const Term& term)>;
  using Lost = std::function<void()>;
  virtual ~Election() = default;

  // Campaigns (on a thread of its own, or at once when there is no one to
  // compete with); `elected` runs when this replica wins, `lost` when it
  // can no longer be sure it leads.
  virtual void Start(Elected elected, Lost lost) = 0;
  // Stops campaigning; a leader resigns, so another replica takes over at
  // once instead of after the lease.
  virtual void Stop() = 0;
  virtual bool IsLeader() const = 0;
  // The leader as this replica last saw it (nullopt: none known yet).
  virtual std::optional<gantry::v1::ControlPlaneReplica> Leader() const = 0;
};

// One control plane on its own store (SQLite): it leads from the start.
class SoleElection final : public Election {
 public:
  explicit SoleElection(gantry::v1::ControlPlaneReplica self) : self_(std::move(self)) {}
  void Start(Elected elected, Lost) override {
    const absl::Time now = absl::Now();
    self_.set_leader(true);
    self_.mutable_leader_since()->set_seconds(absl::ToUnixSeconds(now));
    leading_ = true;
    elected(Term{0, now});
  }
  void Stop() override {}
  bool IsLeader() const override { return leading_; }
  std::optional<gantry::v1::ControlPlaneReplica> Leader() const override {
    if (!leading_) return std::nullopt;
    return self_;
  }

 private:
  gantry::v1::ControlPlaneReplica self_;
  std::atomic<bool> leading_{false};
};

}  // namespace gantry::ha
