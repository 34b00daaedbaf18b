#pragma once

// Named network namespaces as files, like `ip netns add`: a new namespace
// is made on a short-lived thread (unshare(CLONE_NEWNET) changes only the
// calling thread) and kept alive by bind-mounting the thread's
// /proc/self/task/TID/ns/net onto a file, which containers and CNI plugins
// then join by path. Deleting unmounts and removes the file.

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace gantry::agent {

// Creates the namespace at `path` (its directory is created, 0700). Not an
// error when `path` already is a namespace (a restart finds its own).
absl::Status CreateNetns(const std::string& path);

// Unmounts and removes `path`; not an error when it is already gone.
absl::Status DeleteNetns(const std::string& path);

// Whether `path` is a mounted network namespace.
bool IsNetns(const std::string& path);

// Runs `fn` on a thread that joined the namespace at `path` (empty: the
// agent's own), and returns what it returns. For netlink and nftables work
// in a node's namespace without touching the agent's other threads.
absl::Status InNetns(const std::string& path, const std::function<absl::Status()>& fn);

}  // namespace gantry::agent
