#include "controlplane/api/operator_service.h"

#include <deque>
#include <mutex>

#include "common/status_util.h"

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
              metrics::ControlPlaneMetrics* metrics)
      : nodes_(nodes), metrics_(metrics), began_(absl::Now()), queue_(std::make_shared<Queue>()) {
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
  int64_t request_id_ = 0;
  LogChunk current_;
};

}  // namespace

#define GANTRY_UNARY(Method, Req, Resp, Call)                                                 \
  grpc::ServerUnaryReactor* OperatorServiceImpl::Method(Ctx* c, const Req* req, Resp* resp) { \
    const absl::Time began = absl::Now();                                                     \
    return Respond<Resp>(c, Call, resp, metrics_, #Method, began);                            \
  }

GANTRY_UNARY(Apply, ApplyRequest, ApplyResponse, api_->Apply(*req))
GANTRY_UNARY(ListTaskDefinitions, ListTaskDefinitionsRequest, ListTaskDefinitionsResponse,
             api_->ListTaskDefinitions(*req))
GANTRY_UNARY(GetTaskDefinition, GetTaskDefinitionRequest, TaskDefinition,
             api_->GetTaskDefinition(*req))
GANTRY_UNARY(ListServices, ListServicesRequest, ListServicesResponse, api_->ListServices())
GANTRY_UNARY(GetService, GetServiceRequest, ::gantry::v1::Service, api_->GetService(*req))
GANTRY_UNARY(ScaleService, ScaleServiceRequest, ::gantry::v1::Service, api_->ScaleService(*req))
GANTRY_UNARY(DeleteService, DeleteServiceRequest, ::gantry::v1::Service, api_->DeleteService(*req))
GANTRY_UNARY(ListTasks, ListTasksRequest, ListTasksResponse, api_->ListTasks(*req))
GANTRY_UNARY(GetTask, GetTaskRequest, Task, api_->GetTask(*req))
GANTRY_UNARY(ListNodes, ListNodesRequest, ListNodesResponse, api_->ListNodes())
GANTRY_UNARY(GetNode, GetNodeRequest, Node, api_->GetNode(*req))
GANTRY_UNARY(SetNodeStatus, SetNodeStatusRequest, Node, api_->SetNodeStatus(*req))
GANTRY_UNARY(DeleteNode, DeleteNodeRequest, Node, api_->DeleteNode(*req))
GANTRY_UNARY(ListEvents, ListEventsRequest, ListEventsResponse, api_->ListEvents(*req))
GANTRY_UNARY(ListImages, ListImagesRequest, ListImagesResponse, api_->ListImages(*req))
GANTRY_UNARY(ListEndpoints, ListEndpointsRequest, ListEndpointsResponse, api_->ListEndpoints())
GANTRY_UNARY(UndoRollout, UndoRolloutRequest, ::gantry::v1::Service, api_->UndoRollout(*req))

#undef GANTRY_UNARY

grpc::ServerWriteReactor<LogChunk>* OperatorServiceImpl::GetLogs(Ctx* c,
                                                                 const GetLogsRequest* req) {
  return new LogsReactor(nodes_, state_, *req, metrics_);
}

}  // namespace gantry::api
