#pragma once

// Desired sets in parts. A node's desired set grows with its tasks (10,000
// tasks of a few KiB each are tens of MiB) while one gRPC message is kept
// small (common/message_limits.h), so the control plane sends a large set in
// parts of about kDesiredPartBytes (SplitDesiredTasks) and the agent puts
// them back together before acting (DesiredTasksAssembler). The format is
// the `more` flag of DesiredTasks (proto/gantry/v1/agent.proto).
//
// Pure; an assembler is used by one thread (the stream's reader).

#include <cstddef>
#include <optional>
#include <vector>

#include "gantry/v1/agent.pb.h"

namespace gantry {

// What one part of a desired set aims at.
inline constexpr size_t kDesiredPartBytes = 1 << 20;

// `whole` as parts of at most about `part_bytes` each (a single task larger
// than that is a part of its own). A set that fits is one part, unchanged.
std::vector<gantry::v1::DesiredTasks> SplitDesiredTasks(gantry::v1::DesiredTasks whole,
                                                        size_t part_bytes = kDesiredPartBytes);

class DesiredTasksAssembler {
 public:
  // Takes the next part off the stream; returns the whole set when `part`
  // was its last. A part 0 starts over (the set gathered so far was
  // superseded before it was complete: the control plane drops the queued
  // rest of a set that a newer one replaces); a part that does not follow
  // the gathered ones is dropped with them.
  std::optional<gantry::v1::DesiredTasks> Add(gantry::v1::DesiredTasks part);
  // Forgets gathered parts (a new stream).
  void Reset() { gathering_.reset(); }

 private:
  std::optional<gantry::v1::DesiredTasks> gathering_;
};

}  // namespace gantry
