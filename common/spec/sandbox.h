#pragma once

// The rules for a container's sandbox as task definitions state it, shared
// by gantryctl and the control plane (validation) and by the agent (the
// capability set it writes into the OCI spec): capability names, the
// default set and how add/drop change it, resource-limit (ulimit) names,
// `user` values and the pids limit. Pure.
//
// The default capability set is Docker's less CAP_NET_RAW: enough for
// ordinary services, nothing that administers the host, and no raw sockets
// (no sniffing or spoofing on the node's network).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/spec/validation.h"
#include "gantry/v1/types.pb.h"

namespace gantry::spec {

inline constexpr int64_t kDefaultPidsLimit = 1024;
// The kernel's own ceiling (pid_max on 64-bit).
inline constexpr int64_t kMaxPidsLimit = 4194304;

// Every Linux capability, "CAP_CHOWN" ... "CAP_CHECKPOINT_RESTORE".
const std::vector<std::string>& KnownCapabilities();
// The set a container gets when its definition adds and drops nothing.
const std::vector<std::string>& DefaultCapabilities();

// "NET_ADMIN", "net_admin" or "CAP_NET_ADMIN" -> "CAP_NET_ADMIN";
// nullopt for a name that is no capability.
std::optional<std::string> CanonicalCapability(absl::string_view name);

// The container's capabilities: the default set, less `drop` ("ALL" drops
// every one), plus `add`. Unknown names are skipped (validation refuses
// them before a definition is stored).
std::vector<std::string> EffectiveCapabilities(const gantry::v1::ContainerDefinition& c);

// What `c` adds beyond the default set, as "NET_ADMIN" (no CAP_ prefix):
// each needs `use` on it.
std::vector<std::string> AddedCapabilities(const gantry::v1::ContainerDefinition& c);

// "nofile" -> "RLIMIT_NOFILE"; nullopt for an unknown name.
std::optional<std::string> RlimitType(absl::string_view name);

// `user` split into its user and group parts ("app:staff" -> app, staff).
struct UserSpec {
  std::string user;
  std::string group;  // empty: the user's primary group
};
// "" or why `user` is not NAME, UID, NAME:GROUP or UID:GID.
std::string UserProblem(absl::string_view user);
UserSpec SplitUser(absl::string_view user);
// A numeric uid or gid, or nullopt for a name.
std::optional<uint32_t> NumericId(absl::string_view id);

// Adds the problems of `c`'s sandbox fields, under `path`.
void ValidateSandbox(const gantry::v1::ContainerDefinition& c, const std::string& path,
                     std::vector<FieldError>& errors);

}  // namespace gantry::spec
