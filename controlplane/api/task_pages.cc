#include "controlplane/api/task_pages.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gantry::api {
namespace {

// Neither service names nor task ids hold it.
constexpr char kSeparator = '\n';

}  // namespace

std::string EncodeTaskPageToken(const gantry::v1::Task& last) {
  const auto key = state::ClusterState::TaskOrderKey::Of(last);
  return absl::WebSafeBase64Escape(absl::StrCat(
      "1", std::string(1, kSeparator), key.service, std::string(1, kSeparator), key.seconds,
      std::string(1, kSeparator), key.nanos, std::string(1, kSeparator), key.id));
}

absl::StatusOr<state::ClusterState::TaskOrderKey> DecodeTaskPageToken(const std::string& token) {
  const absl::Status invalid = absl::InvalidArgumentError(
      "page_token: not a token from an earlier ListTasks answer; start again without one");
  std::string text;
  if (token.size() > 1024 || !absl::WebSafeBase64Unescape(token, &text)) return invalid;
  const std::vector<std::string> parts = absl::StrSplit(text, kSeparator);
  state::ClusterState::TaskOrderKey key;
  if (parts.size() != 5 || parts[0] != "1" || !absl::SimpleAtoi(parts[2], &key.seconds) ||
      !absl::SimpleAtoi(parts[3], &key.nanos)) {
    return invalid;
  }
  key.service = parts[1];
  key.id = parts[4];
  return key;
}

}  // namespace gantry::api
