#include "controlplane/api/caller.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/pki.h"
#include "grpc/grpc_security_constants.h"

namespace gantry::api {
namespace {

using identity::Identity;

// The bearer token, or "" when the call carries none.
absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::string();
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return absl::UnauthenticatedError(
        "the authorization metadata is not a bearer token; pass --token or set GANTRY_TOKEN");
  }
  return std::string(absl::StripAsciiWhitespace(value));
}

// The verified client certificate's details, or nullopt without one.
absl::StatusOr<std::optional<pki::CertInfo>> PeerCertificate(
    const grpc::ServerContextBase& context) {
  auto auth = context.auth_context();
  if (auth == nullptr) return std::optional<pki::CertInfo>();
  auto pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return std::optional<pki::CertInfo>();
  auto info = pki::ParseCert(std::string(pems.front().data(), pems.front().size()));
  if (!info.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("cannot read the client certificate: ", info.status().message()));
  }
  return std::optional<pki::CertInfo>(*std::move(info));
}

}  // namespace

absl::StatusOr<Identity> CallerAuthenticator::Operator(
    const grpc::ServerContextBase& context) const {
  auto token = BearerToken(context);
  if (!token.ok()) return token.status();
  if (!token->empty()) return tokens_->Authenticate(*token);
  auto cert = PeerCertificate(context);
  if (!cert.ok()) return cert.status();
  if (!cert->has_value()) {
    return absl::UnauthenticatedError("no credentials: pass --token or set GANTRY_TOKEN");
  }
  const pki::Subject& subject = (*cert)->subject;
  if (subject.organization == pki::kNodeOrganization) {
    return absl::PermissionDeniedError(
        absl::StrCat("node \"", subject.common_name,
                     "\": node certificates can call only the agent API; use an operator token"));
  }
  absl::string_view role = subject.organization;
  if (!absl::ConsumePrefix(&role, pki::kRoleOrganizationPrefix) || role.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the client certificate \"", subject.common_name,
                     "\" names no Gantry role (its organization must be gantry:role:ROLE); use "
                     "an operator token"));
  }
  Identity who;
  who.kind = Identity::Kind::kOperatorCertificate;
  who.name = subject.common_name;
  who.role = std::string(role);
  return who;
}

absl::StatusOr<Identity> CallerAuthenticator::Node(const grpc::ServerContextBase& context) const {
  auto token = BearerToken(context);
  if (token.ok() && !token->empty()) {
    return absl::PermissionDeniedError(
        "operator tokens can call only the operator API; an agent authenticates with its node "
        "certificate");
  }
  auto cert = PeerCertificate(context);
  if (!cert.ok()) return cert.status();
  if (!cert->has_value()) {
    return absl::UnauthenticatedError(
        "no node certificate: join the node with --join-token (from gantryctl node join-token "
        "create)");
  }
  const pki::CertInfo& info = **cert;
  if (info.subject.organization != pki::kNodeOrganization || info.subject.common_name.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the client certificate \"", info.subject.common_name,
        "\" is not a node certificate (organization gantry:node); agents join with a token"));
  }
  // Certificates are valid from a minute before they were issued.
  if (tokens_->NodeRevoked(info.subject.common_name, info.not_before + absl::Minutes(1))) {
    return absl::PermissionDeniedError(
        absl::StrCat("the certificate of node \"", info.subject.common_name,
                     "\" was revoked when the node was deleted; join it again with a new token"));
  }
  Identity who;
  who.kind = Identity::Kind::kNode;
  who.name = info.subject.common_name;
  return who;
}

std::string PeerAddress(const grpc::ServerContextBase& context) {
  std::string peer = context.peer();
  absl::string_view view(peer);
  if (absl::ConsumePrefix(&view, "ipv4:") || absl::ConsumePrefix(&view, "ipv6:")) {
    return std::string(view);
  }
  return peer;
}

}  // namespace gantry::api
