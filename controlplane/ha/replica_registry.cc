#include "controlplane/ha/replica_registry.h"

#include "common/log.h"
#include "common/time_util.h"

namespace gantry::ha {

ReplicaRegistry::ReplicaRegistry(store::Store* store, const Clock* clock, const Election* election,
                                 gantry::v1::ControlPlaneReplica self, absl::Duration interval)
    : store_(store),
      clock_(clock),
      election_(election),
      self_(std::move(self)),
      interval_(interval) {}

ReplicaRegistry::~ReplicaRegistry() { Stop(); }

void ReplicaRegistry::Start() {
  loop_ = std::make_unique<Periodic>(clock_, interval_, [this] {
    if (auto st = Publish(); !st.ok()) spdlog::warn("replica record: {}", st.message());
  });
}

void ReplicaRegistry::Stop() { loop_.reset(); }

absl::Status ReplicaRegistry::Publish() {
  gantry::v1::ControlPlaneReplica record = self_;
  record.set_store_revision(store_->Revision());
  *record.mutable_seen_at() = ToProtoTime(clock_->Now());
  store::TxnRequest txn;
  txn.ops.push_back(store::Op::Put(kReplicaPrefix + self_.name(), record.SerializeAsString()));
  auto done = store_->Txn(txn);
  return done.ok() ? absl::OkStatus() : done.status();
}

absl::StatusOr<std::vector<gantry::v1::ControlPlaneReplica>> ReplicaRegistry::List() const {
  auto range = store_->Range(kReplicaPrefix);
  if (!range.ok()) return range.status();
  const auto leader = election_->Leader();
  const absl::Time now = clock_->Now();
  std::vector<gantry::v1::ControlPlaneReplica> out;
  for (const auto& kv : range->kvs) {
    gantry::v1::ControlPlaneReplica r;
    if (!r.ParseFromString(kv.value)) continue;
    r.set_up(now - FromProtoTime(r.seen_at()) < 3 * interval_);
    if (leader && leader->name() == r.name()) {
      r.set_leader(true);
      *r.mutable_leader_since() = leader->leader_since();
      r.set_epoch(leader->epoch());
    } else {
      r.set_leader(false);
      r.clear_leader_since();
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace gantry::ha
