#pragma once

// What gantry-lb lets into HAProxy's configuration and runtime API
// commands. Everything it writes there is either a fixed word of its own or
// a value that passed one of these checks; the values come from the
// control plane (task ids, node addresses, ports, weights, service names)
// or from flags (bind address, paths, user), and gantry-lb trusts neither to
// be free of a newline, a space or a '#' that would change the meaning of
// the configuration. Each check allows a small charset, never quoting or
// escaping, so a value is one word of HAProxy's syntax.
//
// Each returns OK or InvalidArgument whose message starts with "must" and
// names neither the field nor the value (the caller does, quoting the value
// with QuoteForMessage from common/node_fields.h).
//
// Pure and thread-safe.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace gantry::lb {

// A task id as the control plane makes them: 1 to 64 of A-Z, a-z, 0-9,
// '_' and '-'. Server names are made from it.
absl::Status CheckTaskId(absl::string_view task_id);

// A server or backend name gantry-lb made: 1 to 64 of A-Z, a-z, 0-9, '_',
// '-' and '.'.
absl::Status CheckServerName(absl::string_view name);

// A service name, written as a comment beside its listener: 1 to 128 of
// A-Z, a-z, 0-9, '.', '_' and '-'.
absl::Status CheckServiceName(absl::string_view service);

// A TCP port: 1 to 65535.
absl::Status CheckPort(uint32_t port);

// An HAProxy server weight: 0 (drained) to 256.
absl::Status CheckWeight(int weight);

// An absolute path of at most 100 of A-Z, a-z, 0-9, '/', '.', '_', '-',
// '+', ',', '=' and '@' (short enough for a unix socket's address).
absl::Status CheckConfigPath(absl::string_view path);

// A user or group name: 1 to 32 of A-Z, a-z, 0-9, '_', '.' and '-', not
// starting with '-'.
absl::Status CheckAccountName(absl::string_view name);

}  // namespace gantry::lb
