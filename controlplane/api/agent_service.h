#pragma once

// gRPC transport for the agent protocol: one callback-API bidirectional
// stream per agent, translated into NodeManager calls, and the TLS
// bootstrap (Join, RenewCertificate).
//
// Every stream is authenticated by its node certificate before anything is
// read; the first message must be a registration for the node the
// certificate names; anything else ends the stream with an error. Join
// needs a one-time join token and no certificate; RenewCertificate needs
// the node's current certificate. Joins, renewals and registrations go to
// the audit trail, refused or not. GetTaskSecrets hands a node the secret
// values of a task placed on it (secrets/task_secrets.h); every call is
// audited, with the versions given.

#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "controlplane/api/audit_trail.h"
#include "controlplane/api/caller.h"
#include "controlplane/identity/cluster_pki.h"
#include "controlplane/identity/names.h"
#include "controlplane/identity/token_registry.h"
#include "controlplane/nodes/node_manager.h"
#include "controlplane/secrets/secret_registry.h"
#include "gantry/v1/agent.grpc.pb.h"

namespace gantry::api {

class AgentServiceImpl final : public gantry::v1::AgentService::CallbackService {
 public:
  struct Parts {
    nodes::NodeManager* nodes = nullptr;
    const CallerAuthenticator* callers = nullptr;
    identity::TokenRegistry* tokens = nullptr;
    const identity::ClusterPki* pki = nullptr;
    absl::Duration node_cert_ttl = absl::Hours(24);
    const AuditTrail* audit = nullptr;  // may be null
    // For GetTaskSecrets; null: refused.
    const state::ClusterState* state = nullptr;
    const secrets::SecretRegistry* secrets = nullptr;
    // Agents stream to the leader only. Returns nullopt while this replica
    // leads, else the leader's address ("" when none is known yet); null:
    // always the leader.
    std::function<std::optional<std::string>()> leader_elsewhere;
  };
  explicit AgentServiceImpl(const Parts& parts) : parts_(parts) {}

  grpc::ServerBidiReactor<gantry::v1::AgentMessage, gantry::v1::ControlMessage>* Connect(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* context,
                                 const gantry::v1::JoinRequest* request,
                                 gantry::v1::NodeCertificate* response) override;
  grpc::ServerUnaryReactor* RenewCertificate(grpc::CallbackServerContext* context,
                                             const gantry::v1::RenewCertificateRequest* request,
                                             gantry::v1::NodeCertificate* response) override;
  grpc::ServerUnaryReactor* GetTaskSecrets(grpc::CallbackServerContext* context,
                                           const gantry::v1::GetTaskSecretsRequest* request,
                                           gantry::v1::TaskSecrets* response) override;

 private:
  absl::StatusOr<gantry::v1::NodeCertificate> Issue(const std::string& csr_pem,
                                                    const std::string& node_name) const;
  absl::StatusOr<gantry::v1::NodeCertificate> DoJoin(const grpc::CallbackServerContext& context,
                                                     const gantry::v1::JoinRequest& request);

  const Parts parts_;
};

}  // namespace gantry::api
