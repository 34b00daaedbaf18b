#include "controlplane/api/audit_trail.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controlplane/api/caller.h"

namespace gantry::api {
namespace {

using identity::Identity;
using identity::Permission;
using identity::Verb;

constexpr size_t kMaxObjects = 20;

const char* KindName(Identity::Kind kind) {
  switch (kind) {
    case Identity::Kind::kOperatorToken:
      return "token";
    case Identity::Kind::kOperatorCertificate:
      return "certificate";
    case Identity::Kind::kNode:
      return "node";
  }
  return "unknown";
}

audit::Entry EntryFor(const absl::StatusOr<Identity>& who) {
  audit::Entry entry;
  if (!who.ok()) {
    entry.identity_kind = "anonymous";
    return entry;
  }
  entry.identity_kind = KindName(who->kind);
  entry.identity = who->name;
  entry.accessor = who->accessor;
  entry.role = who->role;
  return entry;
}

bool Changes(const std::vector<Permission>& needed) {
  return std::any_of(needed.begin(), needed.end(), [](const Permission& p) {
    return p.verb != Verb::kGet && p.verb != Verb::kList;
  });
}

}  // namespace

bool IsRefusal(const absl::Status& status) {
  return absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status);
}

std::string ObjectsOf(const std::vector<Permission>& needed) {
  std::vector<std::string> objects;
  for (const Permission& p : needed) {
    std::string object = p.name.empty() ? p.resource : absl::StrCat(p.resource, "/", p.name);
    if (std::find(objects.begin(), objects.end(), object) == objects.end()) {
      objects.push_back(std::move(object));
    }
  }
  std::string out;
  for (size_t i = 0; i < objects.size() && i < kMaxObjects; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", objects[i]);
  }
  if (objects.size() > kMaxObjects) {
    absl::StrAppend(&out, " (+", objects.size() - kMaxObjects, " more)");
  }
  return out;
}

void AuditTrail::OperatorCall(const grpc::ServerContextBase& context,
                              const absl::StatusOr<Identity>& who, absl::string_view method,
                              const std::vector<Permission>& needed,
                              const absl::Status& outcome) const {
  if (log_ == nullptr || (!Changes(needed) && !IsRefusal(outcome))) return;
  Record(context, who, method, ObjectsOf(needed), outcome);
}

void AuditTrail::Record(const grpc::ServerContextBase& context, const absl::StatusOr<Identity>& who,
                        absl::string_view method, std::string object,
                        const absl::Status& outcome) const {
  if (log_ == nullptr) return;
  audit::Entry entry = EntryFor(who);
  entry.method = std::string(method);
  entry.object = std::move(object);
  Write(std::move(entry), PeerAddress(context), outcome);
}

void AuditTrail::Join(const grpc::ServerContextBase& context, const std::string& join_token_id,
                      const std::string& node_name, const absl::Status& outcome) const {
  if (log_ == nullptr) return;
  audit::Entry entry;
  entry.identity_kind = "join-token";
  entry.identity = join_token_id;
  entry.method = "Join";
  entry.object = absl::StrCat("nodes/", node_name);
  Write(std::move(entry), PeerAddress(context), outcome);
}

void AuditTrail::Registration(const std::string& peer, const std::string& certified,
                              const std::string& node_name, const absl::Status& outcome) const {
  if (log_ == nullptr) return;
  audit::Entry entry;
  entry.identity_kind = "node";
  entry.identity = certified;
  entry.method = "Connect";
  entry.object = absl::StrCat("nodes/", node_name);
  Write(std::move(entry), peer, outcome);
}

void AuditTrail::Write(audit::Entry entry, std::string peer, const absl::Status& outcome) const {
  entry.peer = std::move(peer);
  entry.outcome = outcome.ok() ? "OK" : absl::StatusCodeToString(outcome.code());
  entry.message = std::string(outcome.message());
  log_->Record(std::move(entry));
}

}  // namespace gantry::api
