#pragma once

// Starting programs from a threaded process. posix_spawn(3) rather than
// fork(): after fork() only async-signal-safe calls are allowed in the
// child, and building an argument vector there (malloc) can deadlock on a
// lock another thread held. The child gets default signal dispositions
// (SIGPIPE is ignored in Gantry's processes, see signals.h) and an empty
// signal mask, so it starts as a shell would start it.
//
// Thread-safe.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gantry {

// Starts args[0] (a path) with args. With `output_fd` >= 0 the child's
// stdout and stderr go there. Returns the child's pid; the caller waits.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args, int output_fd = -1);

// Runs args to completion; returns its exit code (-1 if it did not exit
// normally) and its stdout and stderr together in `output`.
absl::StatusOr<int> RunCapturing(const std::vector<std::string>& args, std::string& output);

}  // namespace gantry
