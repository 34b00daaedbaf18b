#pragma once

// What the API edge records in the audit log (audit/audit_log.h), in one
// place so every service records alike:
//   operator calls   every call that may change something or reads logs
//                    (any verb but get and list), and every call refused
//                    for want of credentials or permission;
//   agent calls      every join, certificate renewal and registration,
//                    refused or not.
// Reads that succeed (get, list, whoami) are not recorded: they are most
// calls and change nothing.
//
// Thread-safe. A null log records nothing.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controlplane/audit/audit_log.h"
#include "controlplane/identity/authorizer.h"
#include "controlplane/identity/identity.h"
#include "grpcpp/server_context.h"

namespace gantry::api {

class AuditTrail {
 public:
  explicit AuditTrail(audit::AuditLog* log) : log_(log) {}

  // An operator call that needed `needed` and ended with `outcome`; `who`
  // is the caller or why it could not be authenticated.
  void OperatorCall(const grpc::ServerContextBase& context,
                    const absl::StatusOr<identity::Identity>& who, absl::string_view method,
                    const std::vector<identity::Permission>& needed,
                    const absl::Status& outcome) const;
  // Recorded whatever the outcome.
  void Record(const grpc::ServerContextBase& context, const absl::StatusOr<identity::Identity>& who,
              absl::string_view method, std::string object, const absl::Status& outcome) const;
  // A join, by the join token's id (its public part; "" when the token
  // does not parse).
  void Join(const grpc::ServerContextBase& context, const std::string& join_token_id,
            const std::string& node_name, const absl::Status& outcome) const;
  // An agent stream's registration as `node_name` by the node its
  // certificate names, from `peer`.
  void Registration(const std::string& peer, const std::string& certified,
                    const std::string& node_name, const absl::Status& outcome) const;

 private:
  void Write(audit::Entry entry, std::string peer, const absl::Status& outcome) const;

  audit::AuditLog* const log_;
};

// "services/web", "taskdefinitions/api, services/api"; at most 20 objects
// then "(+N more)".
std::string ObjectsOf(const std::vector<identity::Permission>& needed);
bool IsRefusal(const absl::Status& status);

}  // namespace gantry::api
