#pragma once

// Runs a program inside a network namespace and collects its output:
// fork, join the namespace in the child (only that process moves), exec.
// Everything the child needs is built before fork(), as the agent is
// multi-threaded. Used for CNI plugins and for `ip` in the node's
// namespace.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gantry::agent {

struct ProcessRun {
  std::string path;               // the program, absolute
  std::vector<std::string> args;  // after argv[0]
  std::vector<std::string> env;   // KEY=VALUE, the whole environment
  std::string input;              // written to stdin (small)
  std::string netns;              // joined first; empty: the agent's
  absl::Duration timeout = absl::Seconds(30);
};

struct ProcessResult {
  int exit_code = 0;
  std::string output;  // stdout, at most 1 MiB; stderr is dropped
};

// DeadlineExceeded (the process is killed) past `timeout`; an exit code
// other than 0 is a result, not an error.
absl::StatusOr<ProcessResult> RunProcess(const ProcessRun& run);

}  // namespace gantry::agent
