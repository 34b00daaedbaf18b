#pragma once

// Pins the secret versions of a deployment before its tasks are placed,
// as ImagePinner pins image digests: a reference with a version keeps it,
// one without gets the secret's current version, once per deployment
// (Deployment.secret_versions). Every task of the deployment then gets the
// same value, and a rollback, which copies the pins, the value it had.
//
// A deployment whose task definition references no secret is pinned
// without a write. A secret missing at that moment is pinned as version 0:
// the deployment's tasks then fail to start, saying why, and the circuit
// breaker sees them.
//
// Pin() must not run concurrently with itself (the controller's pass).

#include "absl/status/statusor.h"
#include "controlplane/events/event_log.h"
#include "controlplane/secrets/secret_catalog.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class SecretPinner {
 public:
  // `catalog` may be null: every secret then counts as missing.
  SecretPinner(state::ClusterState* state, events::EventLog* events,
               const secrets::SecretCatalog* catalog)
      : state_(state), events_(events), catalog_(catalog) {}

  void SetCatalog(const secrets::SecretCatalog* catalog) { catalog_ = catalog; }

  // Pins `deployment` (of `service`, running `td`) in the store and in
  // `deployment`, once.
  absl::Status Pin(const gantry::v1::Service& service, gantry::v1::Deployment& deployment,
                   const gantry::v1::TaskDefinition& td);

 private:
  state::ClusterState* const state_;
  events::EventLog* const events_;
  const secrets::SecretCatalog* catalog_;
};

}  // namespace gantry::controllers
