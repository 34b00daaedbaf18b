#pragma once

// Secret files on the node: one directory per task under a root that is a
// tmpfs (memory, never disk), each value in a file of its own, mode 0400,
// bind-mounted read-only into the container at the path the task
// definition names. The root is mounted as a tmpfs (mode 0700) when it is
// not one already; without a tmpfs no secret file is written.
//
// Nothing here logs a value. Not thread-safe: the reconciler's thread owns
// it.

#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace gantry::agent {

class SecretFiles {
 public:
  // `root`: e.g. /run/gantry/NODE/secrets. `require_tmpfs` false only in
  // tests that cannot mount.
  explicit SecretFiles(std::string root, bool require_tmpfs = true)
      : root_(std::move(root)), require_tmpfs_(require_tmpfs) {}

  // Writes `value` as file `index` of the task (replacing what was there)
  // and returns its host path. FailedPrecondition when there is no tmpfs
  // to write to.
  absl::StatusOr<std::string> Write(const std::string& task_id, int index,
                                    const std::string& value);
  // Removes the task's files; nothing when it has none.
  void Remove(const std::string& task_id);
  // Removes every task directory not in `keep` (after a restart).
  void RemoveAllBut(const std::set<std::string>& keep);

  const std::string& root() const { return root_; }

 private:
  absl::Status EnsureRoot();

  const std::string root_;
  const bool require_tmpfs_;
  bool ready_ = false;
};

}  // namespace gantry::agent
