#pragma once

// The operator API's identity calls, free of gRPC: operator tokens, join
// tokens and "who am I". The caller is already authorized for the call
// (operator_service.cc); this class checks only what the request says
// (a known role, a valid TTL).
//
// Thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "controlplane/identity/authorizer.h"
#include "controlplane/identity/cluster_pki.h"
#include "controlplane/identity/token_registry.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::api {

class AccessApi {
 public:
  AccessApi(identity::TokenRegistry* tokens, const identity::Authorizer* authorizer,
            const identity::ClusterPki* pki)
      : tokens_(tokens), authorizer_(authorizer), pki_(pki) {}

  absl::StatusOr<gantry::v1::CreateTokenResponse> CreateToken(
      const gantry::v1::CreateTokenRequest& request);
  absl::StatusOr<gantry::v1::ListTokensResponse> ListTokens();
  absl::StatusOr<gantry::v1::TokenInfo> RevokeToken(const gantry::v1::RevokeTokenRequest& request);
  absl::StatusOr<gantry::v1::CreateJoinTokenResponse> CreateJoinToken(
      const gantry::v1::CreateJoinTokenRequest& request);
  gantry::v1::WhoAmIResponse WhoAmI(const identity::Identity& who) const;
  // A deleted node's certificates are refused from now on.
  absl::Status RevokeNode(const std::string& node_name) { return tokens_->RevokeNode(node_name); }

 private:
  identity::TokenRegistry* const tokens_;
  const identity::Authorizer* const authorizer_;
  const identity::ClusterPki* const pki_;
};

}  // namespace gantry::api
