#pragma once

// What the agent sends on its stream, in two lanes: control messages
// (registration, heartbeats, status reports, image reports) and log data
// (in order, its end after its data). One writer takes control messages
// first, so a heavy `gantryctl logs -f` delays a heartbeat by at most one log
// chunk, never into a false DOWN. Log data is bounded: a sender waits while
// `max_bulk_bytes` are queued (back-pressure on the log reader, not on the
// stream's other users); a message without data (a stream's end or
// refusal) and control messages never wait.
//
// Thread-safe. Closed until Open(); Close() wakes every waiter and drops
// what is queued (the next registration resends state).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

class OutboundQueue {
 public:
  explicit OutboundQueue(size_t max_bulk_bytes) : max_bulk_bytes_(max_bulk_bytes) {}

  // Log data is bulk; everything else is control.
  static bool IsBulk(const gantry::v1::AgentMessage& message);

  // Queues `message` in its lane; returns false (dropping it) when closed.
  bool Push(gantry::v1::AgentMessage message);
  // The next message, control first; waits; nullopt once closed.
  std::optional<gantry::v1::AgentMessage> Pop();

  void Open();
  void Close();

 private:
  const size_t max_bulk_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::deque<gantry::v1::AgentMessage> control_;
  std::deque<gantry::v1::AgentMessage> bulk_;
  size_t bulk_bytes_ = 0;
};

}  // namespace gantry::agent
