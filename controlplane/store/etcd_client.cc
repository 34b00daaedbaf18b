#include "controlplane/store/etcd_client.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace gantry::store {
namespace {

// A watch response or a range page may be large; etcd itself refuses
// requests above 1.5 MiB, but a response carries many of them.
constexpr int kMaxReceiveBytes = 64 << 20;

absl::Status CheckEndpoint(const std::string& url, const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(endpoint.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--store ", url, ": \"", endpoint,
                     "\" is not HOST:PORT (for example etcd://10.0.0.5:2379,10.0.0.6:2379)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEtcdUrl(const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "etcd://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--store ", url, ": expected etcd://HOST:PORT[,HOST:PORT...]"));
  }
  std::vector<std::string> endpoints;
  for (absl::string_view part : absl::StrSplit(rest, ',')) {
    std::string endpoint(absl::StripAsciiWhitespace(part));
    RETURN_IF_ERROR(CheckEndpoint(url, endpoint));
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

std::string RangeEnd(const std::string& prefix) {
  // The smallest key greater than every key with this prefix: the prefix
  // with its last byte below 0xff incremented; "\0" (all keys) otherwise.
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(const EtcdOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("--store: no etcd endpoints given");
  }
  if (options.ca_pem.empty() && !options.cert_pem.empty()) {
    return absl::InvalidArgumentError(
        "--etcd-cert needs --etcd-ca: a client certificate is only sent over TLS");
  }
  if (options.cert_pem.empty() != options.key_pem.empty()) {
    return absl::InvalidArgumentError("--etcd-cert and --etcd-key must be given together");
  }
  std::unique_ptr<EtcdClient> client(new EtcdClient(options));
  for (const auto& endpoint : options.endpoints) {
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (options.ca_pem.empty()) {
      credentials = grpc::InsecureChannelCredentials();
    } else {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = options.ca_pem;
      ssl.pem_cert_chain = options.cert_pem;
      ssl.pem_private_key = options.key_pem;
      credentials = grpc::SslCredentials(ssl);
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
    // A member that died is noticed within seconds, not at TCP's pace, and
    // a restarted one is reconnected to quickly.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1'000);
    Member m;
    m.endpoint = endpoint;
    m.channel = grpc::CreateCustomChannel(endpoint, credentials, args);
    m.kv = etcdserverpb::KV::NewStub(m.channel);
    m.watch = etcdserverpb::Watch::NewStub(m.channel);
    m.lease = etcdserverpb::Lease::NewStub(m.channel);
    m.maintenance = etcdserverpb::Maintenance::NewStub(m.channel);
    client->members_.push_back(std::move(m));
  }
  return client;
}

EtcdClient::Member& EtcdClient::Current() { return members_[current_.load() % members_.size()]; }

void EtcdClient::MoveOnFrom(const Member& failed) {
  size_t seen = current_.load();
  if (&members_[seen % members_.size()] != &failed) return;  // someone moved already
  current_.compare_exchange_strong(seen, seen + 1);
}

absl::Status EtcdClient::Run(const char* what, bool idempotent, const Call& call,
                             absl::Duration timeout) {
  if (timeout == absl::ZeroDuration()) timeout = options_.call_timeout;
  grpc::Status last;
  std::string endpoint;
  for (size_t attempt = 0; attempt < members_.size(); ++attempt) {
    Member& member = Current();
    const bool was_connected = member.channel->GetState(false) == GRPC_CHANNEL_READY;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
    last = call(member, context);
    endpoint = member.endpoint;
    if (last.ok()) return absl::OkStatus();
    const bool unreachable = last.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (!unreachable) break;
    MoveOnFrom(member);
    if (was_connected && !idempotent) break;
  }
  absl::Status st = FromGrpcStatus(last);
  return absl::Status(st.code(), absl::StrCat("etcd ", what, " at ", endpoint, ": ", st.message()));
}

}  // namespace gantry::store
