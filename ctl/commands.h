#pragma once

// gantryctl's commands that change the cluster, follow it (logs, events,
// rollouts) or deploy; the reads are in inspect.h. Each returns the process
// exit code, prints its output to the connection's `out` and one-line
// errors ("gantryctl: ...") to its `err`.

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "ctl/connection.h"

namespace gantry::ctl {

class Commands {
 public:
  explicit Commands(Connection& c) : c_(c) {}

  int Apply(const std::string& file);
  int Scale(const std::string& kind, const std::string& name, int count);
  int Delete(const std::string& kind, const std::string& name, bool wait);
  // drain (DRAINING) or activate (ACTIVE) a node.
  int SetNodeStatus(const std::string& kind, const std::string& name, bool drain);
  int Logs(const std::string& task, const std::string& container, bool follow, int64_t tail);
  int Events(const std::string& service, int limit, bool watch);
  // Waits for the service's deployment (its newest when empty): 0 when
  // COMPLETED, 1 when FAILED or rolled back, 2 on timeout.
  int RolloutStatus(const std::string& service, const std::string& deployment,
                    absl::Duration timeout);
  int RolloutUndo(const std::string& service);
  // apply, then (with wait) rollout status of every service in the file.
  int Deploy(const std::string& file, bool wait, absl::Duration timeout);

 private:
  Connection& c_;
};

}  // namespace gantry::ctl
