#include "controlplane/api/access_api.h"

#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace gantry::api {

using namespace gantry::v1;  // NOLINT: the file speaks in these messages

absl::StatusOr<CreateTokenResponse> AccessApi::CreateToken(const CreateTokenRequest& request) {
  if (!authorizer_->KnownRole(request.role())) {
    return absl::InvalidArgumentError(
        absl::StrCat("role: \"", request.role(),
                     "\" is not a role; use admin, deployer, viewer, lb or a custom role "
                     "applied as kind: Role (gantryctl get roles lists them)"));
  }
  const absl::Duration ttl = FromProtoDuration(request.ttl());
  if (ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ttl: must not be negative (0 means never expires)");
  }
  if (!request.services().empty() && request.role() != "deployer") {
    return absl::InvalidArgumentError("services: only a deployer token is scoped to services");
  }
  return tokens_->CreateToken(request.role(), request.services(), ttl, request.description());
}

absl::StatusOr<ListTokensResponse> AccessApi::ListTokens() {
  ListTokensResponse out;
  for (auto& info : tokens_->ListTokens()) *out.add_tokens() = std::move(info);
  return out;
}

absl::StatusOr<TokenInfo> AccessApi::RevokeToken(const RevokeTokenRequest& request) {
  return tokens_->RevokeToken(request.accessor());
}

absl::StatusOr<CreateJoinTokenResponse> AccessApi::CreateJoinToken(
    const CreateJoinTokenRequest& request) {
  if (!pki_->CanIssue()) {
    return absl::FailedPreconditionError(
        "this control plane runs on the operator's own PKI (--tls-cert/--tls-key/--tls-ca) and "
        "holds no CA key: issue node certificates from that CA (O=gantry:node, CN=<node name>) "
        "and start agents with --tls-cert and --tls-key");
  }
  const absl::Duration ttl = FromProtoDuration(request.ttl());
  if (ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("ttl: must not be negative");
  auto out = tokens_->CreateJoinToken(request.node_name(), ttl);
  if (!out.ok()) return out.status();
  out->set_ca_hash(pki_->ca_hash());
  return out;
}

absl::StatusOr<ListRolesResponse> AccessApi::ListRoles() const {
  ListRolesResponse out;
  for (const auto& role : authorizer_->built_in_roles()) {
    Role* r = out.add_roles();
    *r = identity::RoleToMessage(role);
    r->set_built_in(true);
  }
  if (roles_ != nullptr) {
    for (auto& role : roles_->ListRoles()) *out.add_roles() = std::move(role);
  }
  return out;
}

absl::StatusOr<DeleteRoleResponse> AccessApi::DeleteRole(const DeleteRoleRequest& request) {
  if (roles_ == nullptr) {
    return absl::FailedPreconditionError("this control plane keeps no custom roles");
  }
  auto role = roles_->DeleteRole(request.name());
  if (!role.ok()) return role.status();
  DeleteRoleResponse out;
  *out.mutable_role() = std::move(*role);
  for (const auto& token : tokens_->ListTokens()) {
    if (token.role() == request.name() && !token.revoked()) out.add_tokens(token.accessor());
  }
  return out;
}

WhoAmIResponse AccessApi::WhoAmI(const identity::Identity& who) const {
  WhoAmIResponse out;
  out.set_identity(who.Describe());
  out.set_role(who.role);
  out.set_cluster_id(pki_->cluster_id());
  return out;
}

}  // namespace gantry::api
