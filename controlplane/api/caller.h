#pragma once

// Who is on the other end of a gRPC call, from what the call carries: a
// bearer token in the `authorization` metadata, or the client certificate
// the TLS handshake verified against the cluster CA. The only place the
// control plane reads credentials from a call.
//
//   Operator API: a token, or an operator certificate (O=gantry:role:ROLE).
//     No credentials: Unauthenticated "no credentials: pass --token or set
//     GANTRY_TOKEN". A node certificate: PermissionDenied.
//   Agent API: a node certificate (O=gantry:node, CN=node name), not
//     revoked. A token: PermissionDenied.
//
// Thread-safe: stateless over a thread-safe TokenRegistry.

#include <string>

#include "absl/status/statusor.h"
#include "controlplane/identity/identity.h"
#include "controlplane/identity/token_registry.h"
#include "grpcpp/server_context.h"

namespace gantry::api {

class CallerAuthenticator {
 public:
  explicit CallerAuthenticator(identity::TokenRegistry* tokens) : tokens_(tokens) {}

  absl::StatusOr<identity::Identity> Operator(const grpc::ServerContextBase& context) const;
  // The node name the caller's certificate names.
  absl::StatusOr<identity::Identity> Node(const grpc::ServerContextBase& context) const;

 private:
  identity::TokenRegistry* const tokens_;
};

// "ipv4:10.0.0.5:51234" -> "10.0.0.5:51234", for logs and the audit log.
std::string PeerAddress(const grpc::ServerContextBase& context);

}  // namespace gantry::api
