#pragma once

// Custom roles (`kind: Role`), kept in the Store under /identity/roles/NAME
// as gantry.v1.Role, with an in-memory cache kept current by a watch (like
// TokenRegistry), so the Authorizer sees a role applied or deleted on any
// control plane at once, without a restart.
//
// Writes: apply stages a role into the request's transaction (Stage), so
// roles commit with its task definitions and services, all or nothing;
// DeleteRole removes one with a compare-and-swap. Who may do either is the
// Authorizer's decision (only admin; see authorizer.h); this class checks
// what the role says (access/role_validation.h) and never stores a role
// with a built-in name.
//
// A record that does not decode, or names a built-in role, is ignored with
// an error in the log: it grants nothing.
//
// Thread-safe.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "controlplane/identity/authorizer.h"
#include "controlplane/store/store.h"
#include "gantry/v1/operator.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace gantry::identity {

inline constexpr char kRolePrefix[] = "/identity/roles/";

class RoleRegistry final : public RoleSource {
 public:
  explicit RoleRegistry(store::Store* store) : store_(store) {}
  ~RoleRegistry() override;

  // Loads and starts following the store. Call once, before use.
  absl::Status Start();

  std::optional<Role> FindRole(const std::string& name) const override;
  // The custom roles, by name.
  std::vector<gantry::v1::Role> ListRoles() const;

  // Adds to `txn` what applying `role` takes and says what it does:
  // "created", "updated" or "unchanged" (nothing added). InvalidArgument
  // "Role NAME: field: problem" when the role is not valid. A role changed
  // by someone else after the cache read fails the transaction's compare.
  absl::StatusOr<std::string> Stage(const gantry::v1::Role& role,
                                    const google::protobuf::Timestamp& now,
                                    store::TxnRequest& txn) const;

  // The role as it was. FailedPrecondition for a built-in role, NotFound
  // when no custom role has that name. Tokens with the role are not
  // touched: they are refused everything until the role is applied again.
  absl::StatusOr<gantry::v1::Role> DeleteRole(const std::string& name);

 private:
  struct Cached {
    store::KeyValue kv;
    gantry::v1::Role message;
    Role role;
  };

  // Updates the cache with one record's event. Never calls the store (it
  // runs in watch callbacks).
  void Apply(const std::string& name, const store::Event& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* const store_;
  std::unique_ptr<store::WatchHandle> watch_;
  mutable std::mutex mu_;
  std::map<std::string, Cached> roles_ ABSL_GUARDED_BY(mu_);  // name -> record
};

// A stored or applied role as the Authorizer reads it. "*" becomes "every";
// verbs this version does not know are dropped, and a rule left without
// verbs or resources is dropped whole, so a record never grants more than
// it says.
Role RoleFromMessage(const gantry::v1::Role& message);
// And back, for ListRoles: "every" is shown as "*".
gantry::v1::Role RoleToMessage(const Role& role);

}  // namespace gantry::identity
