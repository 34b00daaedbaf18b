#pragma once

// What a replica that is not the leader answers a call only the leader can
// serve (agents' streams, logs relayed over them): UNAVAILABLE, naming the
// leader in the message and in the kLeaderMetadata trailer, which agents,
// gantryctl and gantry-lb follow at once.

#include <functional>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/endpoints.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace gantry::api {

// nullopt while this replica leads; `leader_elsewhere` as the services'
// Parts have it (null: always the leader). `what` says what needs the
// leader: "agents stream to the leader".
inline std::optional<grpc::Status> RefuseUnlessLeader(
    grpc::ServerContextBase& context,
    const std::function<std::optional<std::string>()>& leader_elsewhere, absl::string_view what) {
  if (!leader_elsewhere) return std::nullopt;
  std::optional<std::string> leader = leader_elsewhere();
  if (!leader) return std::nullopt;
  if (!leader->empty()) context.AddTrailingMetadata(kLeaderMetadata, *leader);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("this control plane replica is not the leader; ", what,
                                   leader->empty() ? " (none is elected yet; try again)"
                                                   : absl::StrCat(", which is at ", *leader)));
}

}  // namespace gantry::api
