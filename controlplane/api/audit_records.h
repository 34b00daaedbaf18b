#pragma once

// ListAuditRecords: the audit log's query, translated from and to the API's
// messages.

#include "absl/status/statusor.h"
#include "controlplane/audit/audit_log.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::api {

// At most this many records per call.
inline constexpr int kMaxAuditRecords = 10000;

// InvalidArgument on a negative limit; FailedPrecondition when the control
// plane keeps no audit log (`log` null).
absl::StatusOr<gantry::v1::ListAuditRecordsResponse> ListAuditRecordsFrom(
    const audit::AuditLog* log, const gantry::v1::ListAuditRecordsRequest& request);

gantry::v1::AuditRecord ToProto(const audit::Entry& entry);

}  // namespace gantry::api
