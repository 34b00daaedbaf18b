#pragma once

// Address helpers shared by the binaries: "host:port" parsing and the
// loopback test that decides whether plaintext gRPC is allowed.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry {

struct HostPort {
  std::string host;
  int port = 0;
};

// Accepts "host:port", "[v6]:port" and "unix:/path" (host = the whole string,
// port = 0).
absl::StatusOr<HostPort> ParseHostPort(absl::string_view address);

// True for 127.0.0.0/8, ::1, "localhost" and unix sockets.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace gantry
