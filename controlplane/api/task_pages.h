#pragma once

// Paging of ListTasks. A page token is where the previous page ended (the
// last task's place in the listing's order), so a page is right even when
// tasks come and go between calls: no task that stays is skipped or listed
// twice. The token is opaque to clients (web-safe base64 of the key).

#include <string>

#include "absl/status/statusor.h"
#include "controlplane/state/cluster_state.h"
#include "gantry/v1/types.pb.h"

namespace gantry::api {

inline constexpr int kDefaultTaskPageSize = 1000;
inline constexpr int kMaxTaskPageSize = 5000;

std::string EncodeTaskPageToken(const gantry::v1::Task& last);
// InvalidArgument naming page_token for anything EncodeTaskPageToken did
// not make.
absl::StatusOr<state::ClusterState::TaskOrderKey> DecodeTaskPageToken(const std::string& token);

}  // namespace gantry::api
