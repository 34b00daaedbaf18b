#pragma once

// SecretSource over the agent's Session: GetTaskSecrets on the channel of
// the registered stream (the leader's), with a deadline. Thread-safe.

#include "absl/time/time.h"
#include "agent/secrets/secret_source.h"
#include "agent/session.h"

namespace gantry::agent {

class SessionSecretSource final : public SecretSource {
 public:
  // `session` must outlive this.
  explicit SessionSecretSource(const Session* session, absl::Duration timeout = absl::Seconds(10))
      : session_(session), timeout_(timeout) {}

  absl::StatusOr<gantry::v1::TaskSecrets> Fetch(const std::string& task_id) override;

 private:
  const Session* const session_;
  const absl::Duration timeout_;
};

}  // namespace gantry::agent
