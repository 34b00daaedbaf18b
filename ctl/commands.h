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
  // `escape`: control characters other than newline and tab are shown
  // escaped (terminal_text.h), for a terminal.
  int Logs(const std::string& task, const std::string& container, bool follow, int64_t tail,
           bool escape);
  int Events(const std::string& service, int limit, bool watch);
  // Waits for the service's deployment (its newest when empty) and returns
  // one of the codes below.
  int RolloutStatus(const std::string& service, const std::string& deployment,
                    absl::Duration timeout);
  static constexpr int kRolloutCompleted = 0;
  static constexpr int kRolloutFailed = 1;      // FAILED, or rolled back
  static constexpr int kRolloutTimedOut = 2;    // still in progress at the timeout
  static constexpr int kRolloutUnknown = 3;     // the control plane could not tell
  static constexpr int kRolloutSuperseded = 4;  // a newer deployment replaced it
  // The code a file of several services ends with: a failure first, then
  // not knowing, a timeout, a superseded deployment, success.
  static int WorstRollout(int a, int b);
  int RolloutUndo(const std::string& service);
  // apply, then (with wait) rollout status of every service in the file.
  int Deploy(const std::string& file, bool wait, absl::Duration timeout);

 private:
  Connection& c_;
};

}  // namespace gantry::ctl
