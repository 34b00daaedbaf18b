#pragma once

// The operator API's logic, free of gRPC: apply (applier.h), scale and
// delete, and the reads behind `gantryctl get` and `describe`. The gRPC
// service (operator_service.h) only translates to and from this class.
//
// Thread-safe: every method may be called concurrently; writes are
// compare-and-swap transactions retried on conflict.

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/api/applier.h"
#include "controlplane/events/event_log.h"
#include "controlplane/nodes/node_manager.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::api {

class OperatorApi {
 public:
  // `roles` may be null: apply then refuses Role documents.
  // `secrets` may be null: apply then refuses task definitions that
  // reference secrets.
  OperatorApi(state::ClusterState* state, events::EventLog* events, nodes::NodeManager* nodes,
              const Clock* clock, const identity::RoleRegistry* roles = nullptr,
              const secrets::SecretCatalog* secrets = nullptr);

  absl::StatusOr<gantry::v1::ApplyResponse> Apply(const gantry::v1::ApplyRequest& request);

  absl::StatusOr<gantry::v1::ListTaskDefinitionsResponse> ListTaskDefinitions(
      const gantry::v1::ListTaskDefinitionsRequest& request);
  absl::StatusOr<gantry::v1::TaskDefinition> GetTaskDefinition(
      const gantry::v1::GetTaskDefinitionRequest& request);

  absl::StatusOr<gantry::v1::ListServicesResponse> ListServices();
  absl::StatusOr<gantry::v1::Service> GetService(const gantry::v1::GetServiceRequest& request);
  absl::StatusOr<gantry::v1::Service> ScaleService(const gantry::v1::ScaleServiceRequest& request);
  absl::StatusOr<gantry::v1::Service> DeleteService(
      const gantry::v1::DeleteServiceRequest& request);
  // Removes a DOWN node's record; its remaining tasks are marked STOPPED.
  absl::StatusOr<gantry::v1::Node> DeleteNode(const gantry::v1::DeleteNodeRequest& request);
  absl::StatusOr<gantry::v1::Service> UndoRollout(const gantry::v1::UndoRolloutRequest& request);

  absl::StatusOr<gantry::v1::ListTasksResponse> ListTasks(
      const gantry::v1::ListTasksRequest& request);
  absl::StatusOr<gantry::v1::Task> GetTask(const gantry::v1::GetTaskRequest& request);

  absl::StatusOr<gantry::v1::ListNodesResponse> ListNodes();
  absl::StatusOr<gantry::v1::Node> GetNode(const gantry::v1::GetNodeRequest& request);
  absl::StatusOr<gantry::v1::Node> SetNodeStatus(const gantry::v1::SetNodeStatusRequest& request);

  absl::StatusOr<gantry::v1::ListEventsResponse> ListEvents(
      const gantry::v1::ListEventsRequest& request);

  absl::StatusOr<gantry::v1::ListImagesResponse> ListImages(
      const gantry::v1::ListImagesRequest& request);

  absl::StatusOr<gantry::v1::ListNetworkAclsResponse> ListNetworkAcls();
  absl::StatusOr<gantry::v1::NetworkAcl> DeleteNetworkAcl(
      const gantry::v1::DeleteNetworkAclRequest& request);

  // Listeners and weighted backends for gantry-lb (endpoints.cc).
  absl::StatusOr<gantry::v1::ListEndpointsResponse> ListEndpoints();

 private:
  gantry::v1::Node WithLiveness(gantry::v1::Node node) const;

  state::ClusterState* const state_;
  events::EventLog* const events_;
  nodes::NodeManager* const nodes_;
  const Clock* const clock_;
  const Applier applier_;
};

}  // namespace gantry::api
