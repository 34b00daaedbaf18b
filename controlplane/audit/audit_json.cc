#include "controlplane/audit/audit_json.h"

#include "nlohmann/json.hpp"

namespace gantry::audit {
namespace {

constexpr char kTimeFormat[] = "%Y-%m-%d%ET%H:%M:%E3SZ";

struct Field {
  const char* name;
  std::string Entry::*member;
};

constexpr Field kFields[] = {
    {"identityKind", &Entry::identity_kind},
    {"identity", &Entry::identity},
    {"accessor", &Entry::accessor},
    {"role", &Entry::role},
    {"peer", &Entry::peer},
    {"method", &Entry::method},
    {"object", &Entry::object},
    {"outcome", &Entry::outcome},
    {"message", &Entry::message},
};

}  // namespace

std::string ToJsonLine(const Entry& entry) {
  nlohmann::ordered_json j;
  j["time"] = absl::FormatTime(kTimeFormat, entry.time, absl::UTCTimeZone());
  for (const Field& f : kFields) {
    const std::string& value = entry.*f.member;
    if (!value.empty()) j[f.name] = value;
  }
  // Replace, not throw, on bytes that are not UTF-8 (a peer's odd name).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<Entry> FromJsonLine(absl::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("an audit line is not a JSON object");
  }
  Entry entry;
  auto time = j.find("time");
  std::string error;
  if (time == j.end() || !time->is_string() ||
      !absl::ParseTime(absl::RFC3339_full, time->get<std::string>(), &entry.time, &error)) {
    return absl::InvalidArgumentError("an audit line has no valid \"time\"");
  }
  for (const Field& f : kFields) {
    auto it = j.find(f.name);
    if (it != j.end() && it->is_string()) entry.*f.member = it->get<std::string>();
  }
  return entry;
}

}  // namespace gantry::audit
