#pragma once

// The connection to an etcd v3 cluster: one gRPC channel per member
// endpoint, the member in use, and moving to the next member when the one in
// use cannot be reached. The store, its watches and (later) the leader lease
// all go through it.
//
// A call that fails with UNAVAILABLE on a channel that was not connected
// never reached etcd, so it is tried on the next member at once. A call that
// fails on a connected channel may have been applied; only idempotent calls
// (reads) are retried then, as etcd's own Go client does.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace gantry::store {

struct EtcdOptions {
  // host:port of each member; parsed from etcd://h1:p1,h2:p2 by
  // ParseEtcdUrl.
  std::vector<std::string> endpoints;
  // PEM text. An empty CA means plaintext (etcd's http:// client URLs); a
  // client certificate needs a CA.
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  absl::Duration call_timeout = absl::Seconds(5);
};

// "etcd://HOST:PORT[,HOST:PORT...]" -> the endpoints; the error names the
// flag's value and what is wrong with it.
absl::StatusOr<std::vector<std::string>> ParseEtcdUrl(const std::string& url);

class EtcdClient {
 public:
  struct Member {
    std::string endpoint;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  };
  using Call = std::function<grpc::Status(Member& member, grpc::ClientContext& context)>;

  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(const EtcdOptions& options);

  // Runs `call` on the member in use with a fresh context (deadline
  // call_timeout), moving on to the next member as described above. The
  // error names the endpoint.
  // `timeout` zero: options().call_timeout.
  absl::Status Run(const char* what, bool idempotent, const Call& call,
                   absl::Duration timeout = absl::ZeroDuration());

  // The member to open a stream on, and the one after it for the next try.
  Member& Current();
  void MoveOnFrom(const Member& failed);

  const EtcdOptions& options() const { return options_; }

 private:
  explicit EtcdClient(EtcdOptions options) : options_(std::move(options)) {}

  const EtcdOptions options_;
  std::vector<Member> members_;
  std::atomic<size_t> current_{0};
};

// etcd's "key range of everything under prefix": [prefix, RangeEnd(prefix)).
std::string RangeEnd(const std::string& prefix);

}  // namespace gantry::store
