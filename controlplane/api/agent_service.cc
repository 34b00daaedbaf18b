#include "controlplane/api/agent_service.h"

#include <algorithm>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/node_fields.h"
#include "common/pki.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/api/leader_refusal.h"
#include "controlplane/api/refused_reactor.h"
#include "controlplane/identity/tokens.h"
#include "controlplane/secrets/task_secrets.h"

namespace gantry::api {
namespace {

using gantry::v1::AgentMessage;
using gantry::v1::ControlMessage;

class AgentStream;

// The outbound half handed to NodeManager. It outlives the reactor when the
// NodeManager still holds it; after the reactor is gone it drops messages.
class StreamConnection final : public nodes::AgentConnection {
 public:
  explicit StreamConnection(AgentStream* stream) : stream_(stream) {}
  void Send(const ControlMessage& message) override;
  void Close() override;
  // Called by the reactor.
  void OnWriteDone(bool ok);
  void Detach();
  bool FinishOnce();

 private:
  std::mutex mu_;
  AgentStream* stream_;  // null once the reactor is done
  std::deque<ControlMessage> queue_;
  bool writing_ = false;
  bool finished_ = false;
};

class AgentStream final : public grpc::ServerBidiReactor<AgentMessage, ControlMessage> {
 public:
  // `certified` is the node the stream's certificate names.
  AgentStream(nodes::NodeManager* nodes, const AuditTrail* audit, std::string peer,
              std::string certified)
      : nodes_(nodes),
        audit_(audit),
        peer_(std::move(peer)),
        certified_(std::move(certified)),
        conn_(std::make_shared<StreamConnection>(this)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Disconnect();
      if (conn_->FinishOnce()) Finish(grpc::Status::OK);
      return;
    }
    if (node_.empty()) {
      if (!in_.has_register_()) {
        spdlog::warn("agent stream from {}: first message was not a registration", peer_);
        if (conn_->FinishOnce()) {
          Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              "the first message on the agent stream must be a registration"));
        }
        return;
      }
      const std::string& requested = in_.register_().node_name();
      if (requested != certified_) {
        // Both names quoted and escaped: the claimed one is the agent's word.
        const std::string claimed = QuoteForMessage(requested);
        spdlog::warn("agent stream from {}: certificate for node {} tried to register as {}", peer_,
                     QuoteForMessage(certified_), claimed);
        const absl::Status refused = absl::PermissionDeniedError(
            "this node's certificate names node " + QuoteForMessage(certified_) +
            "; it cannot register as " + claimed);
        Audit(requested, refused);
        if (conn_->FinishOnce()) Finish(ToGrpcStatus(refused));
        return;
      }
      // NodeManager::Register validates the registration (nodes/registration.h)
      // before it changes anything; a refusal names the field.
      auto registered = nodes_->Register(conn_, in_.register_());
      Audit(requested, registered.status());
      if (!registered.ok()) {
        spdlog::warn("agent stream from {}: {}", peer_, registered.status().message());
        if (conn_->FinishOnce()) Finish(ToGrpcStatus(registered.status()));
        return;
      }
      node_ = *registered;
      spdlog::info("agent {} connected from {}", node_, peer_);
    } else {
      switch (in_.message_case()) {
        case AgentMessage::kHeartbeat:
          nodes_->OnHeartbeat(node_, in_.heartbeat().checks());
          break;
        case AgentMessage::kStatus:
          nodes_->OnStatus(node_, in_.status());
          break;
        case AgentMessage::kLogData:
          nodes_->OnLogData(node_, in_.log_data());
          break;
        case AgentMessage::kImages:
          nodes_->OnImages(node_, in_.images());
          break;
        default:
          spdlog::warn("agent {}: unexpected message {}", node_,
                       static_cast<int>(in_.message_case()));
      }
    }
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override { conn_->OnWriteDone(ok); }

  void OnDone() override {
    Disconnect();
    conn_->Detach();
    delete this;
  }

 private:
  void Audit(const std::string& node_name, const absl::Status& outcome) const {
    if (audit_ != nullptr) audit_->Registration(peer_, certified_, node_name, outcome);
  }

  void Disconnect() {
    if (!node_.empty() && !disconnected_) {
      disconnected_ = true;
      nodes_->OnDisconnect(node_, conn_.get());
    }
  }

  nodes::NodeManager* const nodes_;
  const AuditTrail* const audit_;
  const std::string peer_;
  const std::string certified_;
  std::shared_ptr<StreamConnection> conn_;
  AgentMessage in_;
  std::string node_;
  bool disconnected_ = false;
};

void StreamConnection::Send(const ControlMessage& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stream_ == nullptr || finished_) return;
  if (message.has_desired() && message.desired().part() == 0) {
    // A new desired set replaces what is still queued of older ones (all
    // but the message being written), so a slow agent costs one set of
    // memory, not one per change.
    auto first = queue_.begin();
    if (writing_ && first != queue_.end()) ++first;
    queue_.erase(std::remove_if(first, queue_.end(),
                                [](const ControlMessage& m) { return m.has_desired(); }),
                 queue_.end());
  }
  queue_.push_back(message);
  if (!writing_) {
    writing_ = true;
    stream_->StartWrite(&queue_.front());
  }
}

void StreamConnection::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.pop_front();
  if (!ok || stream_ == nullptr) {
    queue_.clear();
    writing_ = false;
    return;
  }
  if (!queue_.empty() && !finished_) {
    stream_->StartWrite(&queue_.front());
  } else {
    writing_ = false;
  }
}

bool StreamConnection::FinishOnce() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return false;
  finished_ = true;
  return true;
}

void StreamConnection::Close() {
  AgentStream* stream = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || stream_ == nullptr) return;
    finished_ = true;
    stream = stream_;
  }
  stream->Finish(grpc::Status(grpc::StatusCode::ABORTED,
                              "another agent connection for this node replaced this one"));
}

void StreamConnection::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  stream_ = nullptr;
  queue_.clear();
}

// Ends a stream that failed authentication before reading anything.
}  // namespace

grpc::ServerBidiReactor<AgentMessage, ControlMessage>* AgentServiceImpl::Connect(
    grpc::CallbackServerContext* context) {
  auto who = parts_.callers->Node(*context);
  if (!who.ok()) {
    spdlog::warn("agent stream from {} refused: {}", PeerAddress(*context), who.status().message());
    if (parts_.audit != nullptr)
      parts_.audit->Record(*context, who, "Connect", "nodes", who.status());
    return new RefusedReactor<grpc::ServerBidiReactor<AgentMessage, ControlMessage>>(
        ToGrpcStatus(who.status()));
  }
  // The agent moves on to the leader (kLeaderMetadata names it) at once.
  if (auto refused =
          RefuseUnlessLeader(*context, parts_.leader_elsewhere, "agents stream to the leader")) {
    return new RefusedReactor<grpc::ServerBidiReactor<AgentMessage, ControlMessage>>(*refused);
  }
  return new AgentStream(parts_.nodes, parts_.audit, PeerAddress(*context), who->name);
}

absl::StatusOr<gantry::v1::NodeCertificate> AgentServiceImpl::Issue(
    const std::string& csr_pem, const std::string& node_name) const {
  auto cert = parts_.pki->IssueNodeCert(csr_pem, node_name, parts_.node_cert_ttl);
  if (!cert.ok()) return cert.status();
  auto info = pki::ParseCert(*cert);
  if (!info.ok()) return info.status();
  gantry::v1::NodeCertificate out;
  out.set_node_name(node_name);
  out.set_certificate_pem(*cert);
  out.set_ca_pem(parts_.pki->ca_pem());
  out.set_cluster_id(parts_.pki->cluster_id());
  *out.mutable_expires_at() = ToProtoTime(info->not_after);
  return out;
}

absl::StatusOr<gantry::v1::NodeCertificate> AgentServiceImpl::DoJoin(
    const grpc::CallbackServerContext& context, const gantry::v1::JoinRequest& request) {
  if (auto st = identity::ValidateNodeName(request.node_name()); !st.ok()) return st;
  // The certificate is made first (a bad CSR does not burn the token) and
  // handed out only once the token is consumed.
  auto cert = Issue(request.csr_pem(), request.node_name());
  if (!cert.ok()) return cert.status();
  if (auto st = parts_.tokens->ConsumeJoinToken(request.token(), request.node_name()); !st.ok()) {
    spdlog::warn("join from {} as {} refused: {}", PeerAddress(context), request.node_name(),
                 st.message());
    return st;
  }
  spdlog::info("node {} joined from {}", request.node_name(), PeerAddress(context));
  return cert;
}

grpc::ServerUnaryReactor* AgentServiceImpl::Join(grpc::CallbackServerContext* context,
                                                 const gantry::v1::JoinRequest* request,
                                                 gantry::v1::NodeCertificate* response) {
  auto result = DoJoin(*context, *request);
  if (parts_.audit != nullptr) {
    auto parsed = identity::ParseToken(request->token(), identity::TokenKind::kJoin);
    parts_.audit->Join(*context, parsed.ok() ? parsed->id : "", request->node_name(),
                       result.status());
  }
  if (result.ok()) *response = std::move(*result);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* AgentServiceImpl::RenewCertificate(
    grpc::CallbackServerContext* context, const gantry::v1::RenewCertificateRequest* request,
    gantry::v1::NodeCertificate* response) {
  auto who = parts_.callers->Node(*context);
  absl::StatusOr<gantry::v1::NodeCertificate> result =
      who.ok() ? Issue(request->csr_pem(), who->name) : who.status();
  if (parts_.audit != nullptr) {
    parts_.audit->Record(*context, who, "RenewCertificate",
                         who.ok() ? "nodes/" + who->name : "nodes", result.status());
  }
  if (result.ok()) *response = std::move(*result);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* AgentServiceImpl::GetTaskSecrets(
    grpc::CallbackServerContext* context, const gantry::v1::GetTaskSecretsRequest* request,
    gantry::v1::TaskSecrets* response) {
  auto who = parts_.callers->Node(*context);
  absl::StatusOr<gantry::v1::TaskSecrets> result =
      !who.ok() ? absl::StatusOr<gantry::v1::TaskSecrets>(who.status())
      : parts_.state != nullptr && parts_.secrets != nullptr
          ? secrets::TaskSecretsFor(*parts_.state, *parts_.secrets, who->name, request->task_id())
          : absl::FailedPreconditionError("this control plane keeps no secrets");
  if (parts_.audit != nullptr) {
    std::vector<std::string> given;
    if (result.ok()) {
      for (const auto& s : result->secrets()) {
        given.push_back(absl::StrCat("secrets/", s.name(), " version ", s.version()));
      }
    }
    parts_.audit->Record(*context, who, "GetTaskSecrets",
                         absl::StrCat("tasks/", request->task_id(),
                                      given.empty() ? "" : ": " + absl::StrJoin(given, ", ")),
                         result.status());
  }
  if (result.ok()) *response = std::move(*result);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace gantry::api
