#pragma once

// An audit entry as one line of JSON, the format of DATA_DIR/audit.log:
//   {"time":"2026-12-02T08:00:00.123Z","identityKind":"token",
//    "identity":"ci-web","accessor":"1a2b3c4d5e6f","role":"deployer",
//    "peer":"127.0.0.1:51234","method":"ScaleService",
//    "object":"services/web","outcome":"OK"}
// Empty fields are left out. Field names match the API's JSON
// (lowerCamelCase), so `gantryctl audit -o json` and the file read alike.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controlplane/audit/audit_log.h"

namespace gantry::audit {

std::string ToJsonLine(const Entry& entry);  // no trailing newline
absl::StatusOr<Entry> FromJsonLine(absl::string_view line);

}  // namespace gantry::audit
