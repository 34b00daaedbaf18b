#include "common/tls.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/net_util.h"

namespace gantry {

absl::StatusOr<std::string> ReadFileForFlag(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " ", path, ": cannot read the file (does it exist and is it readable?)"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls, absl::string_view listen_address) {
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (tls.cert.empty()) {
    if (!tls.ca.empty()) {
      return absl::InvalidArgumentError("--tls-ca needs --tls-cert and --tls-key as well");
    }
    if (!IsLoopbackAddress(listen_address)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to serve plaintext gRPC on non-loopback address ", listen_address,
          ": pass --tls-cert and --tls-key (and --tls-ca to require client certificates), "
          "or listen on 127.0.0.1"));
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  auto cert = ReadFileForFlag(tls.cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadFileForFlag(tls.key, "--tls-key");
  if (!key.ok()) return key.status();
  pair.cert_chain = *cert;
  pair.private_key = *key;
  options.pem_key_cert_pairs.push_back(pair);
  if (!tls.ca.empty()) {
    auto ca = ReadFileForFlag(tls.ca, "--tls-ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<ClientChannel> MakeClientChannel(const TlsFiles& tls, absl::string_view target) {
  ClientChannel out;
  // Keep idle streams alive through NATs and detect dead peers.
  out.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  out.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  out.arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (tls.ca.empty()) {
    if (!tls.cert.empty()) {
      return absl::InvalidArgumentError("a client certificate needs --tls-ca as well");
    }
    if (!IsLoopbackAddress(target)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to connect to ", target,
          " without TLS: pass --tls-ca (the CA that signed the control plane's certificate)"));
    }
    out.credentials = grpc::InsecureChannelCredentials();
    return out;
  }
  grpc::SslCredentialsOptions options;
  auto ca = ReadFileForFlag(tls.ca, "--tls-ca");
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *ca;
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!tls.cert.empty()) {
    auto cert = ReadFileForFlag(tls.cert, "--tls-cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadFileForFlag(tls.key, "--tls-key");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  if (!tls.server_name.empty()) {
    out.arguments.SetSslTargetNameOverride(tls.server_name);
  }
  out.credentials = grpc::SslCredentials(options);
  return out;
}

}  // namespace gantry
