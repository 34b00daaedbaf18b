#include "controlplane/api/audit_records.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace gantry::api {

gantry::v1::AuditRecord ToProto(const audit::Entry& entry) {
  gantry::v1::AuditRecord r;
  *r.mutable_time() = ToProtoTime(entry.time);
  r.set_identity_kind(entry.identity_kind);
  r.set_identity(entry.identity);
  r.set_accessor(entry.accessor);
  r.set_role(entry.role);
  r.set_peer(entry.peer);
  r.set_method(entry.method);
  r.set_object(entry.object);
  r.set_outcome(entry.outcome);
  r.set_message(entry.message);
  return r;
}

absl::StatusOr<gantry::v1::ListAuditRecordsResponse> ListAuditRecordsFrom(
    const audit::AuditLog* log, const gantry::v1::ListAuditRecordsRequest& request) {
  if (log == nullptr) {
    return absl::FailedPreconditionError("this control plane keeps no audit log");
  }
  if (request.limit() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must not be negative (got ", request.limit(), ")"));
  }
  audit::Query query;
  if (request.has_since()) query.since = FromProtoTime(request.since());
  query.identity = request.identity();
  query.limit = request.limit() == 0 ? 1000 : std::min(request.limit(), kMaxAuditRecords);
  gantry::v1::ListAuditRecordsResponse out;
  for (const auto& entry : log->Find(query)) *out.add_records() = ToProto(entry);
  return out;
}

}  // namespace gantry::api
