#include "agent/node_identity.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/endpoints.h"
#include "common/files.h"
#include "common/log.h"
#include "common/pki.h"
#include "gantry/v1/agent.grpc.pb.h"
#include "grpcpp/create_channel.h"

namespace gantry::agent {

namespace {

namespace fs = std::filesystem;

struct Paths {
  explicit Paths(const std::string& data_dir) : dir((fs::path(data_dir) / "identity").string()) {}
  std::string In(const char* name) const { return (fs::path(dir) / name).string(); }
  std::string dir;
};

std::string NotJoinedHelp() {
  return "join it with --join-token (create one on the control plane with `gantryctl node "
         "join-token create`) and --ca-hash (printed with it) or --tls-ca";
}

// The CA the join trusts: the given file, or the one in the server's chain
// that matches the pin.
absl::StatusOr<std::string> JoinCa(const NodeIdentity::Options& o, absl::Time now) {
  if (!o.tls.ca.empty()) return ReadFileForFlag(o.tls.ca, "--tls-ca");
  if (o.ca_hash.empty()) {
    return absl::InvalidArgumentError(
        "--join-token needs --ca-hash (printed by `gantryctl node join-token create`) or "
        "--tls-ca, to know the control plane is the real one");
  }
  if (auto st = pki::ValidatePin(o.ca_hash); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--ca-hash: ", st.message()));
  }
  auto endpoints = Endpoints::Parse(o.controlplane, "--controlplane");
  if (!endpoints.ok()) return endpoints.status();
  auto chain = pki::FetchPeerChain(endpoints->Current(), o.call_timeout);
  if (!chain.ok()) return chain.status();
  return pki::PinnedCa(*chain, o.ca_hash, now);
}

using Stub = gantry::v1::AgentService::Stub;

std::unique_ptr<Stub> StubFor(const std::string& target, const ClientTls& tls) {
  ClientChannel ch = MakeClientChannel(tls);
  return gantry::v1::AgentService::NewStub(
      grpc::CreateCustomChannel(target, ch.credentials, ch.arguments));
}

// Calls `call` on the control plane replicas in turn (any one issues
// certificates) until one answers or `timeout` of real time passed.
grpc::Status WithRetries(const std::string& controlplane, const ClientTls& tls,
                         absl::Duration timeout, absl::Duration per_call,
                         const std::function<grpc::Status(Stub&, grpc::ClientContext&)>& call) {
  auto endpoints = Endpoints::Parse(controlplane, "--controlplane");
  if (!endpoints.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(endpoints.status().message()));
  }
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Milliseconds(200);
  for (size_t attempt = 1;; ++attempt) {
    const std::string target = endpoints->Current();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(per_call));
    grpc::Status status = call(*StubFor(target, tls), ctx);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || absl::Now() + backoff > deadline) {
      return status;
    }
    endpoints->MoveOnFrom(target);
    if (attempt % endpoints->size() != 0) continue;  // the next replica at once
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeIdentity>> NodeIdentity::Establish(const Options& options,
                                                                      const Clock* clock) {
  std::unique_ptr<NodeIdentity> id(new NodeIdentity(options, clock));
  if (!options.tls.cert.empty()) {
    auto tls = LoadClientTls(options.tls);
    if (!tls.ok()) return tls.status();
    auto info = pki::ParseCert(tls->cert_pem);
    if (!info.ok())
      return absl::InvalidArgumentError(absl::StrCat("--tls-cert: ", info.status().message()));
    id->own_pki_ = true;
    MutexLock lock(&id->mu_);
    id->tls_ = *std::move(tls);
    id->not_before_ = info->not_before;
    id->not_after_ = info->not_after;
    return id;
  }
  absl::Status stored = id->LoadStored();
  if (stored.ok()) return id;
  if (options.join_token.empty()) {
    if (absl::IsNotFound(stored)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", options.node_name, " has not joined the cluster: ", NotJoinedHelp()));
    }
    return stored;
  }
  if (!absl::IsNotFound(stored)) {
    spdlog::warn("{}; joining again with the join token", stored.message());
  }
  if (auto st = id->Join(); !st.ok()) return st;
  return id;
}

NodeIdentity::~NodeIdentity() { renewal_.reset(); }

absl::Status NodeIdentity::LoadStored() {
  const Paths p(options_.data_dir);
  auto cert = ReadWholeFile(p.In("node.pem"));
  if (!cert.ok()) return cert.status();
  auto key = ReadWholeFile(p.In("node.key"));
  if (!key.ok()) return key.status();
  auto ca = ReadWholeFile(p.In("ca.pem"));
  if (!ca.ok()) return ca.status();
  auto cluster = ReadWholeFile(p.In("cluster-id"));
  if (!cluster.ok()) return cluster.status();
  auto info = pki::ParseCert(*cert);
  if (!info.ok())
    return absl::FailedPreconditionError(
        absl::StrCat(p.In("node.pem"), ": ", info.status().message()));
  if (info->subject.common_name != options_.node_name) {
    return absl::FailedPreconditionError(
        absl::StrCat("this data dir holds the identity of node ", info->subject.common_name,
                     ", not ", options_.node_name, ": pass --node-name ", info->subject.common_name,
                     ", or use another --data-dir and join it with a new token"));
  }
  if (auto st = pki::Verify(*ca, *cert, clock_->Now()); !st.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the node certificate in ", p.In("node.pem"), " can no longer be used (", st.message(),
        "; the agent was probably stopped for longer than its lifetime): ", NotJoinedHelp()));
  }
  return Adopt(*key, *cert, *ca, std::string(absl::StripAsciiWhitespace(*cluster)), false);
}

absl::Status NodeIdentity::Join() {
  auto ca = JoinCa(options_, clock_->Now());
  if (!ca.ok()) return ca.status();
  auto key = pki::GenerateKey();
  if (!key.ok()) return key.status();
  auto csr = pki::CreateCsr(*key, {options_.node_name, pki::kNodeOrganization});
  if (!csr.ok()) return csr.status();
  gantry::v1::JoinRequest req;
  req.set_token(options_.join_token);
  req.set_node_name(options_.node_name);
  req.set_csr_pem(*csr);
  ClientTls tls;
  tls.ca_pem = *ca;
  tls.server_name = options_.tls.server_name;
  gantry::v1::NodeCertificate resp;
  grpc::Status status = WithRetries(
      options_.controlplane, tls, options_.join_timeout, options_.call_timeout,
      [&](Stub& stub, grpc::ClientContext& ctx) { return stub.Join(&ctx, req, &resp); });
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("cannot join the cluster at ", options_.controlplane, ": ",
                                     status.error_message()));
  }
  if (auto st = pki::Verify(*ca, resp.certificate_pem(), clock_->Now()); !st.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the control plane answered the join with a certificate its CA does not sign: ",
        st.message()));
  }
  spdlog::info("node {} joined cluster {} at {}", options_.node_name, resp.cluster_id(),
               options_.controlplane);
  return Adopt(*key, resp.certificate_pem(), *ca, resp.cluster_id(), true);
}

absl::Status NodeIdentity::Adopt(const std::string& key_pem, const std::string& cert_pem,
                                 const std::string& ca_pem, const std::string& cluster_id,
                                 bool save) {
  if (auto st = pki::KeyMatchesCert(key_pem, cert_pem); !st.ok()) return st;
  auto info = pki::ParseCert(cert_pem);
  if (!info.ok()) return info.status();
  if (save) {
    const Paths p(options_.data_dir);
    if (auto st = MakePrivateDirectory(p.dir); !st.ok()) return st;
    // The key last: a crash in between leaves a certificate without its key,
    // which LoadStored() refuses, and the next start joins again.
    const std::string cluster_line = cluster_id + "\n";
    for (const auto& [name, content] :
         {std::pair<const char*, const std::string*>{"ca.pem", &ca_pem},
          {"cluster-id", &cluster_line},
          {"node.pem", &cert_pem},
          {"node.key", &key_pem}}) {
      if (auto st = WriteFileAtomically(p.In(name), *content, 0600); !st.ok()) return st;
    }
  }
  // Set once, by Establish(); a renewal passes the same id.
  if (cluster_id_ != cluster_id) cluster_id_ = cluster_id;
  MutexLock lock(&mu_);
  tls_.ca_pem = ca_pem;
  tls_.cert_pem = cert_pem;
  tls_.key_pem = key_pem;
  tls_.server_name = options_.tls.server_name;
  not_before_ = info->not_before;
  not_after_ = info->not_after;
  return absl::OkStatus();
}

ClientChannel NodeIdentity::Channel() const {
  MutexLock lock(&mu_);
  return MakeClientChannel(tls_);
}

absl::Time NodeIdentity::expires_at() const {
  MutexLock lock(&mu_);
  return not_after_;
}

absl::Status NodeIdentity::RenewIfDue() {
  if (own_pki_) return absl::OkStatus();
  ClientTls current;
  {
    MutexLock lock(&mu_);
    if (clock_->Now() < not_before_ + (not_after_ - not_before_) * 2 / 3) return absl::OkStatus();
    current = tls_;
  }
  auto key = pki::GenerateKey();
  if (!key.ok()) return key.status();
  auto csr = pki::CreateCsr(*key, {options_.node_name, pki::kNodeOrganization});
  if (!csr.ok()) return csr.status();
  gantry::v1::RenewCertificateRequest req;
  req.set_csr_pem(*csr);
  gantry::v1::NodeCertificate resp;
  grpc::Status status =
      WithRetries(options_.controlplane, current, options_.call_timeout, options_.call_timeout,
                  [&](Stub& stub, grpc::ClientContext& ctx) {
                    return stub.RenewCertificate(&ctx, req, &resp);
                  });
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot renew the node certificate (expires ",
                                               absl::FormatTime(expires_at()),
                                               "): ", status.error_message()));
  }
  if (auto st = pki::Verify(current.ca_pem, resp.certificate_pem(), clock_->Now()); !st.ok()) {
    return st;
  }
  if (auto st = Adopt(*key, resp.certificate_pem(), current.ca_pem, cluster_id_, true); !st.ok()) {
    return st;
  }
  spdlog::info("renewed the node certificate; it now expires {}", absl::FormatTime(expires_at()));
  return absl::OkStatus();
}

void NodeIdentity::StartRenewal(absl::Duration every) {
  if (own_pki_ || renewal_) return;
  renewal_ = std::make_unique<Periodic>(clock_, every, [this] {
    if (auto st = RenewIfDue(); !st.ok()) spdlog::warn("{}; retrying", st.message());
  });
}

}  // namespace gantry::agent
