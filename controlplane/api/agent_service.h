#pragma once

// gRPC transport for the agent protocol: one callback-API bidirectional
// stream per agent, translated into NodeManager calls. The first message
// must be a registration; anything else ends the stream with an error.

#include "controlplane/nodes/node_manager.h"
#include "gantry/v1/agent.grpc.pb.h"

namespace gantry::api {

class AgentServiceImpl final : public gantry::v1::AgentService::CallbackService {
 public:
  explicit AgentServiceImpl(nodes::NodeManager* nodes) : nodes_(nodes) {}

  grpc::ServerBidiReactor<gantry::v1::AgentMessage, gantry::v1::ControlMessage>* Connect(
      grpc::CallbackServerContext* context) override;

 private:
  nodes::NodeManager* const nodes_;
};

}  // namespace gantry::api
