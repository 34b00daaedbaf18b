#pragma once

// The control plane's half of one agent's stream, as AgentSessions and LogRelay
// see it. The gRPC transport implements it; tests implement it in memory.

#include "gantry/v1/agent.pb.h"

namespace gantry::nodes {

class AgentConnection {
 public:
  virtual ~AgentConnection() = default;
  // Queues a message for the agent. Thread-safe, never blocks; messages to a
  // closed connection are dropped.
  virtual void Send(const gantry::v1::ControlMessage& message) = 0;
  // Ends the stream (for example when a newer connection for the same node
  // replaces it). Thread-safe, idempotent.
  virtual void Close() = 0;
};

}  // namespace gantry::nodes
