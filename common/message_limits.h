#pragma once

// The gRPC message sizes Gantry chooses instead of gRPC's defaults (4 MiB
// received, unlimited sent), declared once for every server and client.
// Lists that grow with the cluster are paged (ListTasks) or split (desired
// sets, common/desired_parts.h) to stay far below them; docs/reliability.md
// has the sizes they reach at 10,000 tasks per node and 100,000 per cluster.

namespace gantry {

// The largest request the control plane accepts (an apply, an agent's
// status report) and the largest message an agent accepts on its stream.
// A task definition is bounded well below it (common/spec/bounds.h).
inline constexpr int kMaxApiMessageBytes = 16 << 20;
// The largest answer a client of the control plane accepts: the endpoint
// list of 100,000 tasks is about 10 MiB.
inline constexpr int kMaxClientReceiveBytes = 64 << 20;

}  // namespace gantry
