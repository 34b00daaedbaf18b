#pragma once

// Resolves a container's `user` (NAME, UID, NAME:GROUP or UID:GID) to the
// ids its process runs as, the way Docker and runc do, from the text of the
// image's /etc/passwd and /etc/group. Pure.
//
// - A name must be in passwd (or group): "user \"app\" is not in the
//   image's /etc/passwd" otherwise.
// - A numeric uid need not be listed. Its group is its passwd entry's when
//   it has one; otherwise gid = uid (Docker would use gid 0, the root
//   group, which can read files meant for root only: Gantry does not).
// - Supplementary groups: every group in /etc/group that lists the user's
//   name as a member, unless a group was given explicitly.

#include <string>

#include "absl/status/statusor.h"
#include "agent/runtime/oci_spec.h"

namespace gantry::agent {

// `passwd` and `group` are the files' text; empty when the image has none.
absl::StatusOr<ProcessUser> ResolveUser(const std::string& user, const std::string& passwd,
                                        const std::string& group);

}  // namespace gantry::agent
