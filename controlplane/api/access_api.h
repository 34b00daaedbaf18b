#pragma once

// The operator API's identity calls, free of gRPC: operator tokens, join
// tokens, roles and "who am I". The caller is already authorized for the
// call (operator_service.cc); this class checks only what the request says
// (a known role, a valid TTL). Only admin may create tokens and delete
// roles (authorizer.h), which is what keeps custom roles from being a way
// to more privilege.
//
// Thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "controlplane/identity/authorizer.h"
#include "controlplane/identity/cluster_pki.h"
#include "controlplane/identity/role_registry.h"
#include "controlplane/identity/token_registry.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::api {

class AccessApi {
 public:
  // `roles` may be null: built-in roles only.
  AccessApi(identity::TokenRegistry* tokens, const identity::Authorizer* authorizer,
            const identity::ClusterPki* pki, identity::RoleRegistry* roles = nullptr)
      : tokens_(tokens), authorizer_(authorizer), pki_(pki), roles_(roles) {}

  absl::StatusOr<gantry::v1::CreateTokenResponse> CreateToken(
      const gantry::v1::CreateTokenRequest& request);
  absl::StatusOr<gantry::v1::ListTokensResponse> ListTokens();
  absl::StatusOr<gantry::v1::TokenInfo> RevokeToken(const gantry::v1::RevokeTokenRequest& request);
  absl::StatusOr<gantry::v1::CreateJoinTokenResponse> CreateJoinToken(
      const gantry::v1::CreateJoinTokenRequest& request);
  gantry::v1::WhoAmIResponse WhoAmI(const identity::Identity& who) const;
  // A deleted node's certificates are refused from now on.
  absl::Status RevokeNode(const std::string& node_name) { return tokens_->RevokeNode(node_name); }
  // The built-in roles, then the custom ones by name.
  absl::StatusOr<gantry::v1::ListRolesResponse> ListRoles() const;
  // Deletes a custom role; the response names the unrevoked tokens that
  // held it and are now refused everything.
  absl::StatusOr<gantry::v1::DeleteRoleResponse> DeleteRole(
      const gantry::v1::DeleteRoleRequest& request);

 private:
  identity::TokenRegistry* const tokens_;
  const identity::Authorizer* const authorizer_;
  const identity::ClusterPki* const pki_;
  identity::RoleRegistry* const roles_;
};

}  // namespace gantry::api
