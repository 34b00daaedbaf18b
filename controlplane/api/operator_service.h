#pragma once

// gRPC transport for the operator API (callback API). Each method converts
// the call into an OperatorApi call and the result back; GetLogs relays log
// data from the node's agent through the NodeManager.

#include "controlplane/api/operator_api.h"
#include "controlplane/metrics/cp_metrics.h"
#include "controlplane/nodes/node_manager.h"
#include "gantry/v1/operator.grpc.pb.h"

namespace gantry::api {

class OperatorServiceImpl final : public gantry::v1::OperatorService::CallbackService {
 public:
  // `metrics` may be null.
  OperatorServiceImpl(OperatorApi* api, state::ClusterState* state, nodes::NodeManager* nodes,
                      metrics::ControlPlaneMetrics* metrics = nullptr)
      : api_(api), state_(state), nodes_(nodes), metrics_(metrics) {}

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

 private:
  OperatorApi* const api_;
  state::ClusterState* const state_;
  nodes::NodeManager* const nodes_;
  metrics::ControlPlaneMetrics* const metrics_;
};

}  // namespace gantry::api
