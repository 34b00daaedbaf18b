#pragma once

// The operator API's secrets, free of gRPC: create, update (which rolls the
// services that follow the secret), list, describe, reveal and delete. The
// gRPC service checks who may call what and audits every call; this class
// never returns a value except from Reveal().
//
// Rotation: a new version starts a new deployment of every service whose
// primary deployment runs a task definition that references the secret
// without a version, with the service's own deployment settings and the
// same image digests; the new deployment pins the new version.
//
// Thread-safe.

#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/events/event_log.h"
#include "controlplane/secrets/key_files.h"
#include "controlplane/secrets/secret_registry.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::api {

class SecretsApi {
 public:
  // `key_files` may be null: a rotated key is then kept in memory only.
  SecretsApi(state::ClusterState* state, events::EventLog* events, secrets::SecretRegistry* secrets,
             const Clock* clock, const secrets::KeyFiles* key_files = nullptr)
      : state_(state), events_(events), secrets_(secrets), clock_(clock), key_files_(key_files) {}

  // `who` is the caller as the audit log names it; it is kept with the
  // version.
  absl::StatusOr<gantry::v1::PutSecretResponse> Create(const gantry::v1::PutSecretRequest& request,
                                                       const std::string& who);
  absl::StatusOr<gantry::v1::PutSecretResponse> Update(const gantry::v1::PutSecretRequest& request,
                                                       const std::string& who);
  gantry::v1::ListSecretsResponse List() const;
  absl::StatusOr<gantry::v1::Secret> Get(const std::string& name) const;
  absl::StatusOr<gantry::v1::RevealSecretResponse> Reveal(
      const gantry::v1::RevealSecretRequest& request) const;
  // FailedPrecondition while a service uses it.
  absl::StatusOr<gantry::v1::Secret> Delete(const std::string& name);
  // A new key-encryption key; every data key re-wrapped (key_files.h).
  absl::StatusOr<gantry::v1::RotateSecretsKeyResponse> RotateKey();

 private:
  // Starts the rotation deployments; returns the services rolled.
  std::vector<std::string> RollOut(const std::string& name, int64_t version);
  gantry::v1::Secret WithUsers(gantry::v1::Secret secret) const;
  absl::Status NotFound(const std::string& name) const;

  state::ClusterState* const state_;
  events::EventLog* const events_;
  secrets::SecretRegistry* const secrets_;
  const Clock* const clock_;
  const secrets::KeyFiles* const key_files_;
  std::mutex rotate_mu_;  // one rotation at a time
};

}  // namespace gantry::api
