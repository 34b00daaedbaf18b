#include "controlplane/api/agent_service.h"

#include <deque>
#include <mutex>

#include "common/log.h"
#include "common/status_util.h"

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
  AgentStream(nodes::NodeManager* nodes, std::string peer)
      : nodes_(nodes), peer_(std::move(peer)), conn_(std::make_shared<StreamConnection>(this)) {
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
      auto registered = nodes_->Register(conn_, in_.register_());
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
  void Disconnect() {
    if (!node_.empty() && !disconnected_) {
      disconnected_ = true;
      nodes_->OnDisconnect(node_, conn_.get());
    }
  }

  nodes::NodeManager* const nodes_;
  const std::string peer_;
  std::shared_ptr<StreamConnection> conn_;
  AgentMessage in_;
  std::string node_;
  bool disconnected_ = false;
};

void StreamConnection::Send(const ControlMessage& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stream_ == nullptr || finished_) return;
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

}  // namespace

grpc::ServerBidiReactor<AgentMessage, ControlMessage>* AgentServiceImpl::Connect(
    grpc::CallbackServerContext* context) {
  return new AgentStream(nodes_, context->peer());
}

}  // namespace gantry::api
