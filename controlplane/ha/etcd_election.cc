#include "controlplane/ha/etcd_election.h"

#include <chrono>

#include "common/log.h"
#include "common/time_util.h"

namespace gantry::ha {
namespace {

int64_t Seconds(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Seconds(d)); }

}  // namespace

EtcdElection::EtcdElection(store::EtcdClient* client, Options options)
    : client_(client), options_(std::move(options)) {}

EtcdElection::~EtcdElection() { Stop(); }

void EtcdElection::Start(Elected elected, Lost lost) {
  elected_ = std::move(elected);
  lost_ = std::move(lost);
  thread_ = std::thread([this] { Run(); });
}

void EtcdElection::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<gantry::v1::ControlPlaneReplica> EtcdElection::Leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

bool EtcdElection::Wait(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, absl::ToChronoMilliseconds(d), [this] { return stopping_.load(); });
  return !stopping_;
}

absl::StatusOr<int64_t> EtcdElection::GrantLease() {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(Seconds(options_.lease_ttl));
  etcdserverpb::LeaseGrantResponse response;
  absl::Status st = client_->Run("lease grant", false, [&](auto& m, grpc::ClientContext& ctx) {
    return m.lease->LeaseGrant(&ctx, request, &response);
  });
  if (!st.ok()) return st;
  if (!response.error().empty()) return absl::UnavailableError(response.error());
  return response.id();
}

void EtcdElection::Revoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  absl::Status st = client_->Run("lease revoke", true, [&](auto& m, grpc::ClientContext& ctx) {
    return m.lease->LeaseRevoke(&ctx, request, &response);
  });
  if (!st.ok()) spdlog::warn("election: {}", st.message());
}

absl::StatusOr<int64_t> EtcdElection::Renew() {
  int64_t ttl = -1;
  absl::Status st = client_->Run(
      "lease keepalive", true,
      [&](auto& m, grpc::ClientContext& ctx) {
        auto stream = m.lease->LeaseKeepAlive(&ctx);
        etcdserverpb::LeaseKeepAliveRequest request;
        request.set_id(lease_);
        etcdserverpb::LeaseKeepAliveResponse response;
        if (stream->Write(request) && stream->Read(&response)) ttl = response.ttl();
        stream->WritesDone();
        ctx.TryCancel();
        grpc::Status finished = stream->Finish();
        return ttl >= 0 ? grpc::Status::OK : finished;
      },
      options_.lease_ttl / 4);
  if (!st.ok()) return st;
  return ttl;
}

bool EtcdElection::Campaign() {
  etcdserverpb::RangeRequest get;
  get.set_key(kLeaderKey);
  etcdserverpb::RangeResponse current;
  absl::Status st = client_->Run("leader read", true, [&](auto& m, grpc::ClientContext& ctx) {
    return m.kv->Range(&ctx, get, &current);
  });
  if (!st.ok()) {
    spdlog::warn("election: {}", st.message());
    return false;
  }
  if (current.kvs_size() > 0) {
    gantry::v1::ControlPlaneReplica seen;
    if (seen.ParseFromString(current.kvs(0).value())) {
      seen.set_epoch(current.kvs(0).create_revision());
      std::lock_guard<std::mutex> lock(mu_);
      leader_ = seen;
    }
    return false;
  }
  auto lease = GrantLease();
  if (!lease.ok()) {
    spdlog::warn("election: {}", lease.status().message());
    return false;
  }
  const absl::Time now = absl::Now();
  gantry::v1::ControlPlaneReplica me = options_.self;
  me.set_leader(true);
  *me.mutable_leader_since() = ToProtoTime(now);
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(kLeaderKey);
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_create_revision(0);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(kLeaderKey);
  put->set_value(me.SerializeAsString());
  put->set_lease(*lease);
  etcdserverpb::TxnResponse won;
  st = client_->Run("campaign", false,
                    [&](auto& m, grpc::ClientContext& ctx) { return m.kv->Txn(&ctx, txn, &won); });
  if (!st.ok() || !won.succeeded()) {
    if (!st.ok()) spdlog::warn("election: {}", st.message());
    Revoke(*lease);
    return false;
  }
  lease_ = *lease;
  epoch_ = won.header().revision();
  me.set_epoch(epoch_);
  std::lock_guard<std::mutex> lock(mu_);
  leader_ = me;
  return true;
}

void EtcdElection::Lead() {
  // The term runs from when the grant was asked for, to be safe.
  absl::Time term_ends = absl::Now() + options_.lease_ttl - options_.lease_ttl / 4;
  leading_ = true;
  spdlog::info("election: this replica ({}) leads now, epoch {}", options_.self.name(), epoch_);
  elected_(Term{epoch_, absl::Now()});
  while (!stopping_) {
    if (absl::Now() >= term_ends) break;
    const absl::Time sent = absl::Now();
    auto ttl = Renew();
    if (ttl.ok() && *ttl <= 0) {
      spdlog::error("election: etcd says the lease is gone");
      break;
    }
    if (ttl.ok()) {
      term_ends = sent + absl::Seconds(*ttl) - options_.lease_ttl / 4;
    } else {
      spdlog::warn("election: cannot renew the lease: {}", ttl.status().message());
    }
    if (absl::Now() >= term_ends) break;
    if (!Wait(std::min(options_.lease_ttl / 4, term_ends - absl::Now()))) break;
  }
  if (stopping_) {
    Revoke(lease_);  // resign: the next leader need not wait for the lease
    leading_ = false;
    return;
  }
  leading_ = false;
  spdlog::error("election: this replica lost its leadership (epoch {}): its lease was not renewed",
                epoch_);
  lost_();
}

void EtcdElection::Run() {
  while (!stopping_) {
    if (Campaign()) {
      Lead();
      return;  // leadership is never won twice in one process
    }
    if (!Wait(options_.poll)) return;
  }
}

}  // namespace gantry::ha
