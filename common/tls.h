#pragma once

// gRPC credentials for every Gantry endpoint. TLS is the rule: a server
// listening on a non-loopback address, or a client dialling one, refuses to
// run without certificates. Plaintext is allowed only on loopback, for local
// development and tests.
//
// Server: cert + key enable TLS; adding a CA makes client certificates
// mandatory (mutual TLS). Client: a CA enables TLS and verifies the server;
// cert + key present a client certificate.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace gantry {

struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;
  // Name to verify in the server's certificate when it differs from the
  // dialled host (clients only).
  std::string server_name;
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls, absl::string_view listen_address);

struct ClientChannel {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments arguments;
};

absl::StatusOr<ClientChannel> MakeClientChannel(const TlsFiles& tls, absl::string_view target);

// Reads a whole file; the error names the file and the flag it came from.
absl::StatusOr<std::string> ReadFileForFlag(const std::string& path, absl::string_view flag);

}  // namespace gantry
