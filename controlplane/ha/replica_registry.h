#pragma once

// Which control plane replicas share this store, for `gantryctl get
// controlplanes`: each replica writes its record (name, address, start,
// store revision) under /meta/replicas/ every `interval`, and reads all of
// them back with the leader as its election sees it. A replica not heard
// from for three intervals is shown as down; its record stays until it
// comes back (or an operator deletes the key), so a dead replica is
// visible rather than forgotten.
//
// Thread safety: List() may be called from any thread.

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/periodic.h"
#include "controlplane/ha/election.h"
#include "controlplane/store/store.h"
#include "gantry/v1/types.pb.h"

namespace gantry::ha {

inline constexpr char kReplicaPrefix[] = "/meta/replicas/";

class ReplicaRegistry {
 public:
  ReplicaRegistry(store::Store* store, const Clock* clock, const Election* election,
                  gantry::v1::ControlPlaneReplica self, absl::Duration interval = absl::Seconds(2));
  ~ReplicaRegistry();

  void Start();
  void Stop();
  // Writes this replica's record now.
  absl::Status Publish();
  // Every replica's record, by name, with leader, leader_since, epoch and
  // up filled in.
  absl::StatusOr<std::vector<gantry::v1::ControlPlaneReplica>> List() const;

 private:
  store::Store* const store_;
  const Clock* const clock_;
  const Election* const election_;
  const gantry::v1::ControlPlaneReplica self_;
  const absl::Duration interval_;
  std::unique_ptr<Periodic> loop_;
};

}  // namespace gantry::ha
