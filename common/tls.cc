#include "common/tls.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/message_limits.h"

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

absl::StatusOr<std::string> ReadTokenFile(const std::string& path, absl::string_view flag) {
  auto text = ReadFileForFlag(path, flag);
  if (!text.ok()) return text.status();
  std::string token(absl::StripAsciiWhitespace(*text));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": the file is empty; it must hold the token"));
  }
  return token;
}

absl::Status LoadClientCertificate(const TlsFiles& files, ClientTls& out) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (files.cert.empty()) return absl::OkStatus();
  auto cert = ReadFileForFlag(files.cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadFileForFlag(files.key, "--tls-key");
  if (!key.ok()) return key.status();
  out.cert_pem = *std::move(cert);
  out.key_pem = *std::move(key);
  return absl::OkStatus();
}

absl::StatusOr<ClientTls> LoadClientTls(const TlsFiles& files) {
  if (files.ca.empty()) {
    return absl::InvalidArgumentError(
        "no CA to verify the control plane with: pass --tls-ca (the cluster CA, "
        "DATA_DIR/pki/ca.pem on the control plane) or log in with gantryctl login");
  }
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  ClientTls out;
  out.server_name = files.server_name;
  auto ca = ReadFileForFlag(files.ca, "--tls-ca");
  if (!ca.ok()) return ca.status();
  out.ca_pem = *std::move(ca);
  if (absl::Status s = LoadClientCertificate(files, out); !s.ok()) return s;
  return out;
}

ClientChannel MakeClientChannel(const ClientTls& tls, const std::string& token) {
  ClientChannel out;
  // Keep idle streams alive through NATs and detect dead peers.
  out.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  out.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  out.arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  out.arguments.SetMaxReceiveMessageSize(kMaxClientReceiveBytes);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.ca_pem;
  options.pem_cert_chain = tls.cert_pem;
  options.pem_private_key = tls.key_pem;
  if (!tls.server_name.empty()) out.arguments.SetSslTargetNameOverride(tls.server_name);
  out.credentials = grpc::SslCredentials(options);
  if (!token.empty()) {
    out.credentials =
        grpc::CompositeChannelCredentials(out.credentials, grpc::AccessTokenCredentials(token));
  }
  return out;
}

}  // namespace gantry
