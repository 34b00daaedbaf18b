#pragma once

// The seccomp filter every container runs under, as the OCI spec's
// linux.seccomp object (runc compiles and loads it before the container's
// process starts). Pure.
//
// It follows Docker's default profile: an allow list of the system calls
// ordinary programs make, everything else refused with EPERM. Calls that
// only a capability makes safe are allowed only when the container holds
// that capability (mount and unshare with CAP_SYS_ADMIN, ptrace's
// relatives with CAP_SYS_PTRACE, settimeofday with CAP_SYS_TIME, ...), so
// adding a capability grants the calls that go with it. Without
// CAP_SYS_ADMIN, clone may not create namespaces (no `unshare --user`
// escape into a user namespace) and clone3 answers ENOSYS, which makes
// the C library fall back to the filtered clone.

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace gantry::agent {

// `capabilities`: the container's, as "CAP_SYS_ADMIN".
nlohmann::json DefaultSeccompProfile(const std::vector<std::string>& capabilities);

}  // namespace gantry::agent
