#pragma once

// Leader election on etcd with a lease, as Kubernetes' components do it on
// the API server, but directly on etcd:
//
//  - a follower reads the leader key every `poll`; when it is gone, it
//    grants itself a lease of `lease_ttl` and puts the key with that lease
//    in a transaction that requires the key to be absent (create_revision
//    0): at most one replica wins, and the key's create_revision is its
//    epoch;
//  - the leader renews its lease every lease_ttl/4 and counts its term as
//    ending lease_ttl after the last renewal etcd acknowledged (measured
//    from when the renewal was sent, so a slow answer never stretches it).
//    Once that moment passes without a renewal (etcd unreachable, the
//    process paused), it calls `lost`: by then etcd may have expired the
//    lease and elected another replica, and the fence refuses its writes
//    anyway;
//  - Stop() on a leader revokes the lease, so a planned restart hands over
//    at once.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "controlplane/ha/election.h"
#include "controlplane/store/etcd_client.h"

namespace gantry::ha {

inline constexpr char kLeaderKey[] = "/meta/leader";

class EtcdElection final : public Election {
 public:
  struct Options {
    gantry::v1::ControlPlaneReplica self;
    absl::Duration lease_ttl = absl::Seconds(2);
    absl::Duration poll = absl::Milliseconds(200);
  };

  EtcdElection(store::EtcdClient* client, Options options);
  ~EtcdElection() override;

  void Start(Elected elected, Lost lost) override;
  void Stop() override;
  bool IsLeader() const override { return leading_.load(); }
  std::optional<gantry::v1::ControlPlaneReplica> Leader() const override;

 private:
  void Run();
  // One campaign: true when this replica won (lease_ and epoch set).
  bool Campaign();
  // Renews until the term ends or Stop(); returns when it did.
  void Lead();
  // Renews the lease once; the TTL etcd granted, 0 when the lease is gone,
  // an error when etcd did not answer.
  absl::StatusOr<int64_t> Renew();
  absl::StatusOr<int64_t> GrantLease();
  void Revoke(int64_t lease);
  // Waits up to `d` unless Stop() is called; false when stopping.
  bool Wait(absl::Duration d);

  store::EtcdClient* const client_;
  const Options options_;
  Elected elected_;
  Lost lost_;

  std::atomic<bool> leading_{false};
  std::atomic<bool> stopping_{false};
  int64_t lease_ = 0;  // the election thread's own
  int64_t epoch_ = 0;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::optional<gantry::v1::ControlPlaneReplica> leader_;
  std::thread thread_;
};

}  // namespace gantry::ha
