#pragma once

// gRPC client credentials for every Gantry client (agent, gantryctl,
// gantry-lb). TLS always, loopback included: a client verifies the control
// plane against the cluster CA (or an operator's own CA) and may present a
// client certificate; an operator client adds its bearer token to every
// call. The control plane's server side is in controlplane/control_plane.cc.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace gantry {

// Files as given on a command line or in a config file.
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;
  // Name to verify in the server's certificate when it differs from the
  // dialled host.
  std::string server_name;
};

// The same, read: PEM text.
struct ClientTls {
  std::string ca_pem;
  std::string cert_pem;  // optional client certificate, with key_pem
  std::string key_pem;
  std::string server_name;
};

struct ClientChannel {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments arguments;
};

// Reads the files; errors name the flag and the file. A CA is required
// ("no CA to verify the control plane: pass --tls-ca ...").
absl::StatusOr<ClientTls> LoadClientTls(const TlsFiles& files);

// Only the optional client certificate and key of `files` (both or neither),
// into `out`; for clients that take their CA from elsewhere (gantryctl's
// client config).
absl::Status LoadClientCertificate(const TlsFiles& files, ClientTls& out);

// `token` non-empty: sent as "authorization: Bearer <token>" on every call.
ClientChannel MakeClientChannel(const ClientTls& tls, const std::string& token = "");

// Reads a whole file; the error names the file and the flag it came from.
absl::StatusOr<std::string> ReadFileForFlag(const std::string& path, absl::string_view flag);

// A token (bearer or join token) from a file named by `flag`: surrounding
// whitespace stripped; an empty file is an error naming the flag and file.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path, absl::string_view flag);

}  // namespace gantry
