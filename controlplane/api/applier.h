#pragma once

// `apply`: task definitions, services and custom roles from one request
// committed in one store transaction, all or nothing.
//   - Everything is validated before anything is read or written.
//   - A task definition whose containers differ from the family's newest
//     revision becomes the next immutable revision; identical content is
//     "unchanged".
//   - A service's `taskDefinition` (a family, or family:revision) resolves
//     against the stored revisions and those of the same request; a new
//     revision or new settings start a new deployment, a new count only
//     resizes the current one; an autoscaled service keeps the count the
//     autoscaler chose, within the new bounds.
//   - A role (identity/role_registry.h) is created, replaced whole or
//     "unchanged"; only admin may apply one (permissions.h).
//   - Every secret a task definition references must exist (with the
//     version it pins); plain environment keys that look like credentials
//     are applied with a warning that points to `secrets:`.
//   - Each object is compared-and-swapped on the revision it was read at; a
//     conflict retries the whole request from a fresh read.
// Events describe what changed once the transaction is in.
//
// Thread-safe: holds no state of its own between calls.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/events/event_log.h"
#include "controlplane/identity/role_registry.h"
#include "controlplane/secrets/secret_catalog.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/operator.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace gantry::api {

class Applier {
 public:
  // `roles` may be null: a request with roles is then refused. `secrets`
  // may be null: a task definition that references one is then refused.
  Applier(state::ClusterState* state, events::EventLog* events, const Clock* clock,
          const identity::RoleRegistry* roles = nullptr,
          const secrets::SecretCatalog* secrets = nullptr)
      : state_(state), events_(events), clock_(clock), roles_(roles), secrets_(secrets) {}

  absl::StatusOr<gantry::v1::ApplyResponse> Apply(const gantry::v1::ApplyRequest& request) const;

 private:
  // One attempt at building and committing the transaction.
  struct Attempt {
    // One time for every created_at and updated_at the attempt writes.
    google::protobuf::Timestamp now;
    gantry::v1::ApplyResponse response;
    store::TxnRequest txn;
    // Family -> the revision a service naming just the family resolves to.
    std::map<std::string, int64_t> latest;
    // "service message" lines for events once committed.
    std::vector<std::string> messages;
  };

  // Returns false when the transaction lost a compare-and-swap.
  absl::StatusOr<bool> TryApply(const gantry::v1::ApplyRequest& request, Attempt& attempt) const;
  void StageTaskDefinitions(const gantry::v1::ApplyRequest& request, Attempt& attempt) const;
  absl::Status StageRoles(const gantry::v1::ApplyRequest& request, Attempt& attempt) const;
  void StageNetworkAcls(const gantry::v1::ApplyRequest& request, Attempt& attempt) const;
  absl::Status StageService(const gantry::v1::Service& in, const gantry::v1::ApplyRequest& request,
                            Attempt& attempt) const;
  // The revision `in.task_definition()` names, as "family:revision".
  absl::StatusOr<std::string> Resolve(const gantry::v1::Service& in, const Attempt& attempt) const;
  // The load balancer sends traffic to a port of the revision it deploys.
  absl::Status CheckTargetPort(const gantry::v1::Service& in,
                               const gantry::v1::ApplyRequest& request, const Attempt& attempt,
                               const std::string& resolved) const;
  // The request's load balancer ports are not another service's.
  absl::Status CheckListenersFree(const gantry::v1::Service& in,
                                  const gantry::v1::ApplyRequest& request) const;
  void RecordEvents(const Attempt& attempt) const;
  // Every referenced secret and version exists.
  absl::Status CheckSecrets(const gantry::v1::ApplyRequest& request) const;

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  const identity::RoleRegistry* const roles_;
  const secrets::SecretCatalog* const secrets_;
};

// What apply warns about without refusing: credentials in plain
// environment values.
std::vector<std::string> ApplyWarnings(const gantry::v1::ApplyRequest& request);

// Validates a request's documents without reading the state: each object on
// its own, and no name twice.
absl::Status ValidateApply(const gantry::v1::ApplyRequest& request);

// `in`'s settings over the stored service `stored` (empty when new), as
// apply writes them; the autoscaler's count survives within new bounds.
gantry::v1::Service MergeService(const gantry::v1::Service& stored, const gantry::v1::Service& in,
                                 const std::string& resolved);

}  // namespace gantry::api
