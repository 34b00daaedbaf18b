#pragma once

// gRPC transport for the operator API (callback API). Each method first
// establishes who calls (CallerAuthenticator), that the caller is within its
// limits (CallerLimits: requests a second, open streams) and that it may do
// it (Authorizer, default deny), then converts the call into an
// OperatorApi or AccessApi call and the result back, and records it in the
// audit log when AuditTrail says so; GetLogs relays log data from the
// node's agent through the NodeManager.

#include "controlplane/api/access_api.h"
#include "controlplane/api/audit_records.h"
#include "controlplane/api/audit_trail.h"
#include "controlplane/api/caller.h"
#include "controlplane/api/caller_limits.h"
#include "controlplane/api/operator_api.h"
#include "controlplane/api/secrets_api.h"
#include "controlplane/metrics/cp_metrics.h"
#include "controlplane/nodes/node_manager.h"
#include "gantry/v1/operator.grpc.pb.h"

namespace gantry::api {

class OperatorServiceImpl final : public gantry::v1::OperatorService::CallbackService {
 public:
  struct Parts {
    OperatorApi* api = nullptr;
    SecretsApi* secrets = nullptr;  // null: secret calls are refused
    AccessApi* access = nullptr;
    const CallerAuthenticator* callers = nullptr;
    CallerLimits* limits = nullptr;  // null: no limits
    const identity::Authorizer* authorizer = nullptr;
    state::ClusterState* state = nullptr;
    nodes::NodeManager* nodes = nullptr;
    metrics::ControlPlaneMetrics* metrics = nullptr;  // may be null
    const AuditTrail* audit = nullptr;
    const audit::AuditLog* audit_log = nullptr;  // read by ListAuditRecords
    // The replicas on this store (ha::ReplicaRegistry), for ListControlPlanes.
    std::function<absl::StatusOr<gantry::v1::ListControlPlanesResponse>()> list_controlplanes;
    // As AgentServiceImpl's: nullopt while this replica leads, else the
    // leader's address; for what needs the agents' streams (logs).
    std::function<std::optional<std::string>()> leader_elsewhere;
  };
  explicit OperatorServiceImpl(const Parts& parts)
      : api_(parts.api),
        secrets_(parts.secrets),
        access_(parts.access),
        callers_(parts.callers),
        limits_(parts.limits),
        authorizer_(parts.authorizer),
        state_(parts.state),
        nodes_(parts.nodes),
        metrics_(parts.metrics),
        audit_(parts.audit),
        audit_log_(parts.audit_log),
        list_controlplanes_(parts.list_controlplanes),
        leader_elsewhere_(parts.leader_elsewhere) {}

  using Ctx = grpc::CallbackServerContext;
  using Unary = grpc::ServerUnaryReactor;

  Unary* Apply(Ctx* c, const gantry::v1::ApplyRequest* req,
               gantry::v1::ApplyResponse* resp) override;
  Unary* ListTaskDefinitions(Ctx* c, const gantry::v1::ListTaskDefinitionsRequest* req,
                             gantry::v1::ListTaskDefinitionsResponse* resp) override;
  Unary* GetTaskDefinition(Ctx* c, const gantry::v1::GetTaskDefinitionRequest* req,
                           gantry::v1::TaskDefinition* resp) override;
  Unary* ListServices(Ctx* c, const gantry::v1::ListServicesRequest* req,
                      gantry::v1::ListServicesResponse* resp) override;
  Unary* GetService(Ctx* c, const gantry::v1::GetServiceRequest* req,
                    gantry::v1::Service* resp) override;
  Unary* ScaleService(Ctx* c, const gantry::v1::ScaleServiceRequest* req,
                      gantry::v1::Service* resp) override;
  Unary* DeleteService(Ctx* c, const gantry::v1::DeleteServiceRequest* req,
                       gantry::v1::Service* resp) override;
  Unary* ListTasks(Ctx* c, const gantry::v1::ListTasksRequest* req,
                   gantry::v1::ListTasksResponse* resp) override;
  Unary* GetTask(Ctx* c, const gantry::v1::GetTaskRequest* req, gantry::v1::Task* resp) override;
  Unary* ListNodes(Ctx* c, const gantry::v1::ListNodesRequest* req,
                   gantry::v1::ListNodesResponse* resp) override;
  Unary* GetNode(Ctx* c, const gantry::v1::GetNodeRequest* req, gantry::v1::Node* resp) override;
  Unary* DeleteNode(Ctx* c, const gantry::v1::DeleteNodeRequest* req,
                    gantry::v1::Node* resp) override;
  Unary* SetNodeStatus(Ctx* c, const gantry::v1::SetNodeStatusRequest* req,
                       gantry::v1::Node* resp) override;
  Unary* ListEvents(Ctx* c, const gantry::v1::ListEventsRequest* req,
                    gantry::v1::ListEventsResponse* resp) override;
  Unary* ListImages(Ctx* c, const gantry::v1::ListImagesRequest* req,
                    gantry::v1::ListImagesResponse* resp) override;
  Unary* ListEndpoints(Ctx* c, const gantry::v1::ListEndpointsRequest* req,
                       gantry::v1::ListEndpointsResponse* resp) override;
  Unary* UndoRollout(Ctx* c, const gantry::v1::UndoRolloutRequest* req,
                     gantry::v1::Service* resp) override;
  grpc::ServerWriteReactor<gantry::v1::LogChunk>* GetLogs(
      Ctx* c, const gantry::v1::GetLogsRequest* req) override;
  grpc::ServerWriteReactor<gantry::v1::SnapshotChunk>* SaveSnapshot(
      Ctx* c, const gantry::v1::SaveSnapshotRequest* req) override;
  Unary* CreateToken(Ctx* c, const gantry::v1::CreateTokenRequest* req,
                     gantry::v1::CreateTokenResponse* resp) override;
  Unary* ListTokens(Ctx* c, const gantry::v1::ListTokensRequest* req,
                    gantry::v1::ListTokensResponse* resp) override;
  Unary* RevokeToken(Ctx* c, const gantry::v1::RevokeTokenRequest* req,
                     gantry::v1::TokenInfo* resp) override;
  Unary* CreateJoinToken(Ctx* c, const gantry::v1::CreateJoinTokenRequest* req,
                         gantry::v1::CreateJoinTokenResponse* resp) override;
  Unary* WhoAmI(Ctx* c, const gantry::v1::WhoAmIRequest* req,
                gantry::v1::WhoAmIResponse* resp) override;
  Unary* ListAuditRecords(Ctx* c, const gantry::v1::ListAuditRecordsRequest* req,
                          gantry::v1::ListAuditRecordsResponse* resp) override;
  Unary* ListControlPlanes(Ctx* c, const gantry::v1::ListControlPlanesRequest* req,
                           gantry::v1::ListControlPlanesResponse* resp) override;
  Unary* ListRoles(Ctx* c, const gantry::v1::ListRolesRequest* req,
                   gantry::v1::ListRolesResponse* resp) override;
  Unary* DeleteRole(Ctx* c, const gantry::v1::DeleteRoleRequest* req,
                    gantry::v1::DeleteRoleResponse* resp) override;
  Unary* ListNetworkAcls(Ctx* c, const gantry::v1::ListNetworkAclsRequest* req,
                         gantry::v1::ListNetworkAclsResponse* resp) override;
  Unary* DeleteNetworkAcl(Ctx* c, const gantry::v1::DeleteNetworkAclRequest* req,
                          gantry::v1::NetworkAcl* resp) override;
  Unary* CreateSecret(Ctx* c, const gantry::v1::PutSecretRequest* req,
                      gantry::v1::PutSecretResponse* resp) override;
  Unary* UpdateSecret(Ctx* c, const gantry::v1::PutSecretRequest* req,
                      gantry::v1::PutSecretResponse* resp) override;
  Unary* ListSecrets(Ctx* c, const gantry::v1::ListSecretsRequest* req,
                     gantry::v1::ListSecretsResponse* resp) override;
  Unary* GetSecret(Ctx* c, const gantry::v1::GetSecretRequest* req,
                   gantry::v1::Secret* resp) override;
  Unary* RevealSecret(Ctx* c, const gantry::v1::RevealSecretRequest* req,
                      gantry::v1::RevealSecretResponse* resp) override;
  Unary* DeleteSecret(Ctx* c, const gantry::v1::DeleteSecretRequest* req,
                      gantry::v1::Secret* resp) override;
  Unary* RotateSecretsKey(Ctx* c, const gantry::v1::RotateSecretsKeyRequest* req,
                          gantry::v1::RotateSecretsKeyResponse* resp) override;

 private:
  // OK when the caller is within its request limit and may do everything
  // in `needed`.
  absl::Status Allowed(const identity::Identity& who,
                       const std::vector<identity::Permission>& needed) const;
  // One of the caller's streams, held until the stream ends.
  absl::StatusOr<CallerLimits::StreamSlot> StreamFor(const identity::Identity& who) const;
  absl::StatusOr<gantry::v1::ListTaskDefinitionsResponse> ListTaskDefinitionsFor(
      const identity::Identity& who, const gantry::v1::ListTaskDefinitionsRequest& req);
  absl::StatusOr<gantry::v1::Node> DeleteNodeAndRevoke(const gantry::v1::DeleteNodeRequest& req);
  absl::StatusOr<gantry::v1::TaskDefinition> GetTaskDefinitionFor(
      const identity::Identity& who, const gantry::v1::GetTaskDefinitionRequest& req);

  // secrets_, or FailedPrecondition when this control plane keeps none.
  absl::StatusOr<SecretsApi*> Secrets() const;

  OperatorApi* const api_;
  SecretsApi* const secrets_;
  AccessApi* const access_;
  const CallerAuthenticator* const callers_;
  CallerLimits* const limits_;
  const identity::Authorizer* const authorizer_;
  state::ClusterState* const state_;
  nodes::NodeManager* const nodes_;
  metrics::ControlPlaneMetrics* const metrics_;
  const AuditTrail* const audit_;
  const audit::AuditLog* const audit_log_;
  const std::function<absl::StatusOr<gantry::v1::ListControlPlanesResponse>()> list_controlplanes_;
  const std::function<std::optional<std::string>()> leader_elsewhere_;
};

}  // namespace gantry::api
