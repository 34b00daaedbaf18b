#pragma once

// Relays `gantryctl logs` to the agent that has the logs and its answers
// back. Open() sends a LogRequest on the connection of the task's node and
// remembers the caller's sink under a fresh request id; the agent's LogData
// answers go to that sink until one has eof set; Close() cancels. A stream
// whose agent disconnects ends with an error, so a following client is not
// left waiting for a node that is gone.
//
// Each stream remembers the connection its request went out on: when a
// node's connection goes away, EndOrphaned() ends the node's streams that
// did not go out on the connection speaking for it now, so a stream opened
// after the agent reconnected survives the old stream's end.
//
// Ownership: `sessions` is not owned and must outlive this object; sinks
// are owned until their stream ends.
//
// Thread safety: all methods are thread-safe. Sinks run on the thread that
// delivered the data (or ended the stream), outside the lock, and must not
// block. Lock order: LogRelay, then AgentSessions.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "controlplane/nodes/agent_connection.h"
#include "controlplane/nodes/agent_sessions.h"
#include "gantry/v1/agent.pb.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::nodes {

class LogRelay {
 public:
  using Sink = std::function<void(const gantry::v1::LogData&)>;

  explicit LogRelay(const AgentSessions* sessions);
  LogRelay(const LogRelay&) = delete;
  LogRelay& operator=(const LogRelay&) = delete;

  // Asks the agent on `task`'s node for its logs; `sink` receives the
  // answers. FailedPrecondition when that agent is not connected.
  absl::StatusOr<int64_t> Open(const gantry::v1::Task& task,
                               const gantry::v1::GetLogsRequest& request, Sink sink)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The caller is no longer interested: the agent is told to stop.
  void Close(int64_t request_id) ABSL_LOCKS_EXCLUDED(mu_);
  // An answer from `node`'s agent; ignored unless it is for a stream open
  // on that node.
  void OnData(const std::string& node, const gantry::v1::LogData& data) ABSL_LOCKS_EXCLUDED(mu_);
  // `node`'s connection went away: its streams that did not go out on the
  // connection speaking for it now (none, unless it reconnected) end with
  // an error.
  void EndOrphaned(const std::string& node) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Stream {
    std::string node;
    // Identity only: the connection the request went out on.
    std::shared_ptr<AgentConnection> via;
    Sink sink;
  };

  const AgentSessions* const sessions_;

  Mutex mu_;
  std::map<int64_t, Stream> streams_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace gantry::nodes
