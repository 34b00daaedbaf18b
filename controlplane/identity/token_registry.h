#pragma once

// Operator tokens, join tokens and revoked nodes, kept in the Store under
// /identity/ (so replicas on one etcd share them) with an in-memory cache
// kept current by a watch, like ClusterState.
//
// Authenticate() is the hot path: a cache lookup, a SHA-256 and a
// constant-time compare; last use is written back at most once a minute
// per token. Join tokens are consumed with a compare-and-swap, so two
// agents racing with one token cannot both join.
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
#include "absl/time/time.h"
#include "common/clock.h"
#include "controlplane/identity/identity.h"
#include "controlplane/store/store.h"
#include "gantry/v1/identity.pb.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::identity {

inline constexpr char kIdentityRoot[] = "/identity/";

class TokenRegistry {
 public:
  TokenRegistry(store::Store* store, const Clock* clock);
  ~TokenRegistry();

  // Loads and starts following the store. Call once, before use.
  absl::Status Start();

  // --- Operator tokens.
  // `role` must be known to the caller's Authorizer (checked by the API).
  // ttl zero: never expires.
  absl::StatusOr<gantry::v1::CreateTokenResponse> CreateToken(const std::string& role,
                                                              const std::string& services,
                                                              absl::Duration ttl,
                                                              const std::string& description);
  // Unauthenticated ("token <accessor> has expired|was revoked|is not
  // known to this cluster") or the identity.
  absl::StatusOr<Identity> Authenticate(const std::string& token);
  std::vector<gantry::v1::TokenInfo> ListTokens() const;
  absl::StatusOr<gantry::v1::TokenInfo> RevokeToken(const std::string& accessor);
  // On a store without any admin token, creates one (description
  // "bootstrap admin") and returns it; nullopt when one exists.
  absl::StatusOr<std::optional<std::string>> EnsureBootstrapAdmin();

  // --- Join tokens. ttl zero: 15 minutes.
  absl::StatusOr<gantry::v1::CreateJoinTokenResponse> CreateJoinToken(const std::string& node_name,
                                                                      absl::Duration ttl);
  // Marks the token used by `node_name`; Unauthenticated when it is
  // unknown, expired or already used, PermissionDenied when it is bound to
  // another name. Each message says which and what to do.
  absl::Status ConsumeJoinToken(const std::string& token, const std::string& node_name);

  // --- Nodes.
  absl::Status RevokeNode(const std::string& node_name);
  // True when certificates for the node issued at `issued_at` are revoked.
  bool NodeRevoked(const std::string& node_name, absl::Time issued_at) const;

 private:
  // Updates the caches; with mu_ held. Never writes the store (it runs in
  // watch callbacks), so no store call is made with mu_ held either.
  void Apply(const std::vector<store::Event>& events);

  store::Store* const store_;
  const Clock* const clock_;
  std::unique_ptr<store::WatchHandle> watch_;
  mutable std::mutex mu_;                                               // guards the caches below
  std::map<std::string, store::KeyValue> tokens_ ABSL_GUARDED_BY(mu_);  // accessor -> record
  std::map<std::string, store::KeyValue> join_tokens_ ABSL_GUARDED_BY(mu_);  // id -> record
  std::map<std::string, absl::Time> revoked_nodes_ ABSL_GUARDED_BY(mu_);     // name -> revoked_at
};

}  // namespace gantry::identity
