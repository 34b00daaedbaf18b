#include "controlplane/api/operator_service.h"

#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "controlplane/api/leader_refusal.h"
#include "controlplane/api/permissions.h"
#include "controlplane/api/refused_reactor.h"
#include "controlplane/api/snapshot_reactor.h"
#include "controlplane/store/snapshot.h"

namespace gantry::api {
namespace {

using namespace gantry::v1;  // NOLINT: the file only translates these messages

template <typename T>
grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* ctx, absl::StatusOr<T> result,
                                  T* out, metrics::ControlPlaneMetrics* metrics, const char* method,
                                  absl::Time began) {
  auto* reactor = ctx->DefaultReactor();
  if (result.ok()) *out = std::move(*result);
  const grpc::Status status = ToGrpcStatus(result.status());
  if (metrics != nullptr) {
    metrics->ApiRequest(method, absl::StatusCodeToString(result.status().code()),
                        absl::Now() - began);
  }
  reactor->Finish(status);
  return reactor;
}

// Streams log data relayed from an agent to the client, one write at a
// time. The sink handed to the NodeManager holds only the shared Queue, so a
// late delivery after the RPC ended is harmless.
class LogsReactor final : public grpc::ServerWriteReactor<LogChunk> {
 public:
  // Bounds memory when the client reads slower than the agent sends.
  static constexpr size_t kMaxQueuedBytes = 16 << 20;

  struct Queue {
    std::mutex mu;
    LogsReactor* reactor = nullptr;
    std::deque<LogChunk> chunks;
    size_t bytes = 0;
    bool writing = false;
    bool eof = false;
    bool finished = false;
    grpc::Status status;
  };

  LogsReactor(nodes::NodeManager* nodes, state::ClusterState* state, const GetLogsRequest& req,
              metrics::ControlPlaneMetrics* metrics, CallerLimits::StreamSlot slot)
      : nodes_(nodes),
        metrics_(metrics),
        began_(absl::Now()),
        queue_(std::make_shared<Queue>()),
        slot_(std::move(slot)) {
    queue_->reactor = this;
    auto task = state->FindTask(req.task_id());
    if (!task.ok()) {
      FinishNow(ToGrpcStatus(task.status()));
      return;
    }
    auto queue = queue_;
    auto opened = nodes_->OpenLogs(*task, req, [queue](const LogData& data) {
      std::lock_guard<std::mutex> lock(queue->mu);
      if (queue->reactor == nullptr || queue->finished) return;
      if (!data.data().empty()) {
        LogChunk chunk;
        chunk.set_data(data.data());
        queue->bytes += chunk.data().size();
        queue->chunks.push_back(std::move(chunk));
      }
      if (queue->bytes > kMaxQueuedBytes) {
        queue->eof = true;
        queue->chunks.clear();
        queue->status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     "the client reads logs too slowly; try --tail");
      } else if (data.eof()) {
        queue->eof = true;
        if (!data.error().empty()) {
          // The agent's own answer (no such container, agent gone): not a
          // transport failure between gantryctl and the control plane.
          queue->status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, data.error());
        }
      }
      queue->reactor->Pump();
    });
    if (!opened.ok()) {
      FinishNow(ToGrpcStatus(opened.status()));
      return;
    }
    request_id_ = *opened;
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->writing = false;
    if (!ok) {
      queue_->eof = true;
      queue_->chunks.clear();
      queue_->status = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    Pump();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->eof = true;
    queue_->chunks.clear();
    queue_->status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    Pump();
  }

  void OnDone() override {
    if (request_id_ != 0) nodes_->CloseLogs(request_id_);
    {
      std::lock_guard<std::mutex> lock(queue_->mu);
      queue_->reactor = nullptr;
    }
    delete this;
  }

 private:
  // Requires queue_->mu.
  void Pump() {
    if (queue_->writing || queue_->finished) return;
    if (!queue_->chunks.empty()) {
      current_ = std::move(queue_->chunks.front());
      queue_->chunks.pop_front();
      queue_->bytes -= current_.data().size();
      queue_->writing = true;
      StartWrite(&current_);
    } else if (queue_->eof) {
      queue_->finished = true;
      Done(queue_->status);
    }
  }

  void FinishNow(grpc::Status status) {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->finished = true;
    Done(std::move(status));
  }

  // Counted like every other call; the latency of a followed stream is how
  // long it was followed.
  void Done(grpc::Status status) {
    if (metrics_ != nullptr) {
      metrics_->ApiRequest(
          "GetLogs", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
          absl::Now() - began_);
    }
    Finish(std::move(status));
  }

  nodes::NodeManager* const nodes_;
  metrics::ControlPlaneMetrics* const metrics_;
  const absl::Time began_;
  std::shared_ptr<Queue> queue_;
  CallerLimits::StreamSlot slot_;  // the caller's stream, given back with this
  int64_t request_id_ = 0;
  LogChunk current_;
};

// Ends a GetLogs call the caller may not make.
}  // namespace

absl::Status OperatorServiceImpl::Allowed(const identity::Identity& who,
                                          const std::vector<identity::Permission>& needed) const {
  if (limits_ != nullptr) {
    if (auto st = limits_->Admit(who); !st.ok()) return st;
  }
  for (const auto& permission : needed) {
    if (auto st = authorizer_->Check(who, permission); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<CallerLimits::StreamSlot> OperatorServiceImpl::StreamFor(
    const identity::Identity& who) const {
  if (limits_ == nullptr) return CallerLimits::StreamSlot(nullptr);
  return limits_->OpenStream(who);
}

absl::StatusOr<ListTaskDefinitionsResponse> OperatorServiceImpl::ListTaskDefinitionsFor(
    const identity::Identity& who, const ListTaskDefinitionsRequest& req) {
  auto out = api_->ListTaskDefinitions(req);
  if (out.ok()) {
    for (auto& td : *out->mutable_task_definitions()) RedactEnvironment(who, *authorizer_, td);
  }
  return out;
}

absl::StatusOr<Node> OperatorServiceImpl::DeleteNodeAndRevoke(const DeleteNodeRequest& req) {
  auto node = api_->DeleteNode(req);
  if (!node.ok()) return node;
  // Its certificate is refused from now on; joining again takes a new token.
  if (auto st = access_->RevokeNode(req.name()); !st.ok()) return st;
  return node;
}

absl::StatusOr<TaskDefinition> OperatorServiceImpl::GetTaskDefinitionFor(
    const identity::Identity& who, const GetTaskDefinitionRequest& req) {
  auto out = api_->GetTaskDefinition(req);
  if (out.ok()) RedactEnvironment(who, *authorizer_, *out);
  return out;
}

namespace {

using identity::Permission;
using identity::Verb;

std::vector<Permission> One(Verb verb, const char* resource, const std::string& name = "") {
  return {Permission{verb, resource, name}};
}

}  // namespace

// Each call: authenticate and authorize (`Needed`), then `Call`, which may
// use `who`; then the audit trail.
#define GANTRY_UNARY(Method, Req, Resp, Needed, Call)                                          \
  grpc::ServerUnaryReactor* OperatorServiceImpl::Method(Ctx* c, const Req* req, Resp* resp) {  \
    const absl::Time began = absl::Now();                                                      \
    const std::vector<identity::Permission> needed = Needed;                                   \
    const absl::StatusOr<identity::Identity> caller = callers_->Operator(*c);                  \
    absl::Status allowed = caller.ok() ? Allowed(*caller, needed) : caller.status();           \
    absl::StatusOr<Resp> result = Resp();                                                      \
    if (allowed.ok()) {                                                                        \
      [[maybe_unused]] const identity::Identity& who = *caller;                                \
      result = Call;                                                                           \
    } else {                                                                                   \
      result = allowed;                                                                        \
    }                                                                                          \
    if (audit_ != nullptr) audit_->OperatorCall(*c, caller, #Method, needed, result.status()); \
    return Respond<Resp>(c, std::move(result), resp, metrics_, #Method, began);                \
  }

GANTRY_UNARY(Apply, ApplyRequest, ApplyResponse, ApplyPermissions(*req), api_->Apply(*req))
GANTRY_UNARY(ListTaskDefinitions, ListTaskDefinitionsRequest, ListTaskDefinitionsResponse,
             One(Verb::kList, "taskdefinitions"), ListTaskDefinitionsFor(who, *req))
GANTRY_UNARY(GetTaskDefinition, GetTaskDefinitionRequest, TaskDefinition,
             One(Verb::kGet, "taskdefinitions", FamilyOf(req->reference())),
             GetTaskDefinitionFor(who, *req))
GANTRY_UNARY(ListServices, ListServicesRequest, ListServicesResponse, One(Verb::kList, "services"),
             api_->ListServices())
GANTRY_UNARY(GetService, GetServiceRequest, ::gantry::v1::Service,
             One(Verb::kGet, "services", req->name()), api_->GetService(*req))
GANTRY_UNARY(ScaleService, ScaleServiceRequest, ::gantry::v1::Service,
             One(Verb::kScale, "services", req->name()), api_->ScaleService(*req))
GANTRY_UNARY(DeleteService, DeleteServiceRequest, ::gantry::v1::Service,
             One(Verb::kDelete, "services", req->name()), api_->DeleteService(*req))
GANTRY_UNARY(ListTasks, ListTasksRequest, ListTasksResponse, One(Verb::kList, "tasks"),
             api_->ListTasks(*req))
GANTRY_UNARY(GetTask, GetTaskRequest, Task, One(Verb::kGet, "tasks", req->id()),
             api_->GetTask(*req))
GANTRY_UNARY(ListNodes, ListNodesRequest, ListNodesResponse, One(Verb::kList, "nodes"),
             api_->ListNodes())
GANTRY_UNARY(GetNode, GetNodeRequest, Node, One(Verb::kGet, "nodes", req->name()),
             api_->GetNode(*req))
GANTRY_UNARY(SetNodeStatus, SetNodeStatusRequest, Node, One(Verb::kUpdate, "nodes", req->name()),
             api_->SetNodeStatus(*req))
GANTRY_UNARY(DeleteNode, DeleteNodeRequest, Node, One(Verb::kDelete, "nodes", req->name()),
             DeleteNodeAndRevoke(*req))
GANTRY_UNARY(ListEvents, ListEventsRequest, ListEventsResponse, One(Verb::kList, "events"),
             api_->ListEvents(*req))
GANTRY_UNARY(ListImages, ListImagesRequest, ListImagesResponse, One(Verb::kList, "images"),
             api_->ListImages(*req))
GANTRY_UNARY(ListEndpoints, ListEndpointsRequest, ListEndpointsResponse,
             One(Verb::kList, "endpoints"), api_->ListEndpoints())
GANTRY_UNARY(UndoRollout, UndoRolloutRequest, ::gantry::v1::Service,
             One(Verb::kUndo, "services", req->service()), api_->UndoRollout(*req))
GANTRY_UNARY(CreateToken, CreateTokenRequest, CreateTokenResponse, One(Verb::kCreate, "tokens"),
             access_->CreateToken(*req))
GANTRY_UNARY(ListTokens, ListTokensRequest, ListTokensResponse, One(Verb::kList, "tokens"),
             access_->ListTokens())
GANTRY_UNARY(RevokeToken, RevokeTokenRequest, TokenInfo,
             One(Verb::kRevoke, "tokens", req->accessor()), access_->RevokeToken(*req))
GANTRY_UNARY(CreateJoinToken, CreateJoinTokenRequest, CreateJoinTokenResponse,
             One(Verb::kCreate, "jointokens", req->node_name()), access_->CreateJoinToken(*req))
// Every authenticated caller may ask who it is.
GANTRY_UNARY(WhoAmI, WhoAmIRequest, WhoAmIResponse, {},
             absl::StatusOr<WhoAmIResponse>(access_->WhoAmI(who)))
GANTRY_UNARY(ListAuditRecords, ListAuditRecordsRequest, ListAuditRecordsResponse,
             One(Verb::kList, "audit"), ListAuditRecordsFrom(audit_log_, *req))
GANTRY_UNARY(ListControlPlanes, ListControlPlanesRequest, ListControlPlanesResponse,
             One(Verb::kList, "controlplanes"),
             list_controlplanes_ ? list_controlplanes_()
                                 : absl::StatusOr<ListControlPlanesResponse>(
                                       absl::UnimplementedError("no replica registry")))
// Roles are not secret: viewers and deployers may list them too.
GANTRY_UNARY(ListRoles, ListRolesRequest, ListRolesResponse, One(Verb::kList, "roles"),
             access_->ListRoles())
GANTRY_UNARY(DeleteRole, DeleteRoleRequest, DeleteRoleResponse,
             One(Verb::kDelete, "roles", req->name()), access_->DeleteRole(*req))
GANTRY_UNARY(ListNetworkAcls, ListNetworkAclsRequest, ListNetworkAclsResponse,
             One(Verb::kList, "networkacls"), api_->ListNetworkAcls())
GANTRY_UNARY(DeleteNetworkAcl, DeleteNetworkAclRequest, ::gantry::v1::NetworkAcl,
             One(Verb::kDelete, "networkacls", req->name()), api_->DeleteNetworkAcl(*req))

// Secrets: metadata is readable like the rest of the cluster; writing
// needs create or update on the secret, its value read (see RevealSecret).
GANTRY_UNARY(CreateSecret, PutSecretRequest, PutSecretResponse,
             One(Verb::kCreate, "secrets", req->name()),
             Secrets().ok() ? secrets_->Create(*req, who.Describe())
                            : absl::StatusOr<PutSecretResponse>(Secrets().status()))
GANTRY_UNARY(UpdateSecret, PutSecretRequest, PutSecretResponse,
             One(Verb::kUpdate, "secrets", req->name()),
             Secrets().ok() ? secrets_->Update(*req, who.Describe())
                            : absl::StatusOr<PutSecretResponse>(Secrets().status()))
GANTRY_UNARY(ListSecrets, ListSecretsRequest, ListSecretsResponse, One(Verb::kList, "secrets"),
             Secrets().ok() ? absl::StatusOr<ListSecretsResponse>(secrets_->List())
                            : absl::StatusOr<ListSecretsResponse>(Secrets().status()))
GANTRY_UNARY(GetSecret, GetSecretRequest, ::gantry::v1::Secret,
             One(Verb::kGet, "secrets", req->name()),
             Secrets().ok() ? secrets_->Get(req->name())
                            : absl::StatusOr<::gantry::v1::Secret>(Secrets().status()))
GANTRY_UNARY(DeleteSecret, DeleteSecretRequest, ::gantry::v1::Secret,
             One(Verb::kDelete, "secrets", req->name()),
             Secrets().ok() ? secrets_->Delete(req->name())
                            : absl::StatusOr<::gantry::v1::Secret>(Secrets().status()))

// The key that seals every secret: admin only (access::AdminOnly).
GANTRY_UNARY(RotateSecretsKey, RotateSecretsKeyRequest, RotateSecretsKeyResponse,
             One(Verb::kUpdate, "secretkeys"),
             Secrets().ok() ? secrets_->RotateKey()
                            : absl::StatusOr<RotateSecretsKeyResponse>(Secrets().status()))

#undef GANTRY_UNARY

absl::StatusOr<SecretsApi*> OperatorServiceImpl::Secrets() const {
  if (secrets_ == nullptr) {
    return absl::FailedPreconditionError("this control plane keeps no secrets");
  }
  return secrets_;
}

// By hand rather than GANTRY_UNARY: the audit record names the version
// read, whatever the outcome.
grpc::ServerUnaryReactor* OperatorServiceImpl::RevealSecret(Ctx* c, const RevealSecretRequest* req,
                                                            RevealSecretResponse* resp) {
  const absl::Time began = absl::Now();
  const absl::StatusOr<identity::Identity> who = callers_->Operator(*c);
  absl::Status admitted = who.status();
  if (who.ok()) admitted = Allowed(*who, {{Verb::kRead, "secrets", req->name()}});
  absl::StatusOr<RevealSecretResponse> result = absl::UnknownError("not called");
  if (!admitted.ok()) {
    result = admitted;
  } else if (auto secrets = Secrets(); !secrets.ok()) {
    result = secrets.status();
  } else {
    result = (*secrets)->Reveal(*req);
  }
  const int64_t version = result.ok() ? result->version() : req->version();
  if (audit_ != nullptr) {
    audit_->Record(
        *c, who, "RevealSecret",
        absl::StrCat("secrets/", req->name(),
                     version == 0 ? " (current version)" : absl::StrCat(" version ", version)),
        result.status());
  }
  return Respond<RevealSecretResponse>(c, std::move(result), resp, metrics_, "RevealSecret", began);
}

grpc::ServerWriteReactor<LogChunk>* OperatorServiceImpl::GetLogs(Ctx* c,
                                                                 const GetLogsRequest* req) {
  // Logs are the service's: a deployer scoped to web* reads web's only.
  const absl::StatusOr<identity::Identity> who = callers_->Operator(*c);
  absl::Status admitted = who.status();
  std::string object = "tasks/" + req->task_id();
  CallerLimits::StreamSlot slot;
  if (who.ok()) {
    auto task = state_->FindTask(req->task_id());
    if (task.ok()) {
      admitted = Allowed(*who, {{Verb::kLogs, "services", task->service()}});
      if (admitted.ok()) {
        auto held = StreamFor(*who);
        admitted = held.status();
        if (held.ok()) slot = std::move(*held);
      }
      object += " (services/" + task->service() + ")";
    } else {
      admitted = task.status();
    }
  }
  if (audit_ != nullptr) audit_->Record(*c, who, "GetLogs", object, admitted);
  if (!admitted.ok())
    return new RefusedReactor<grpc::ServerWriteReactor<LogChunk>>(ToGrpcStatus(admitted));
  // Logs come over the agents' streams, which only the leader holds.
  if (auto refused = RefuseUnlessLeader(*c, leader_elsewhere_,
                                        "logs are relayed by the leader: ask it (--server)")) {
    return new RefusedReactor<grpc::ServerWriteReactor<LogChunk>>(*refused);
  }
  return new LogsReactor(nodes_, state_, *req, metrics_, std::move(slot));
}

grpc::ServerWriteReactor<SnapshotChunk>* OperatorServiceImpl::SaveSnapshot(
    Ctx* c, const SaveSnapshotRequest*) {
  using Refused = RefusedReactor<grpc::ServerWriteReactor<SnapshotChunk>>;
  const absl::StatusOr<identity::Identity> who = callers_->Operator(*c);
  absl::Status admitted = who.status();
  CallerLimits::StreamSlot slot;
  if (who.ok()) admitted = Allowed(*who, {{Verb::kCreate, "snapshots", ""}});
  if (admitted.ok()) {
    auto held = StreamFor(*who);
    admitted = held.status();
    if (held.ok()) slot = std::move(*held);
  }
  if (!admitted.ok()) {
    if (audit_ != nullptr) audit_->Record(*c, who, "SaveSnapshot", "snapshots", admitted);
    return new Refused(ToGrpcStatus(admitted));
  }
  auto snapshot = store::TakeSnapshot(state_->store(), RealClock::Get());
  if (audit_ != nullptr) audit_->Record(*c, who, "SaveSnapshot", "snapshots", snapshot.status());
  if (!snapshot.ok()) return new Refused(ToGrpcStatus(snapshot.status()));
  return new SnapshotReactor(snapshot->SerializeAsString(), std::move(slot));
}

}  // namespace gantry::api
