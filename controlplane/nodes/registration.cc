#include "controlplane/nodes/registration.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/node_fields.h"

namespace gantry::nodes {

namespace {

// The error for `field` (already with its quoted value where that helps).
absl::Status Refuse(const gantry::v1::RegisterRequest& r, absl::string_view field,
                    absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      "registration of node ", QuoteForMessage(r.node_name()), ": ", field, ": ", problem));
}

absl::Status CheckAttributes(const gantry::v1::RegisterRequest& r) {
  if (auto st = CheckAttributeCount(r.attributes_size()); !st.ok()) {
    return Refuse(r, "attributes", st.message());
  }
  const std::map<std::string, std::string> sorted(r.attributes().begin(), r.attributes().end());
  for (const auto& [key, value] : sorted) {
    const std::string field = absl::StrCat("attributes[", QuoteForMessage(key, 300), "]");
    if (auto st = CheckAttributeKey(key); !st.ok()) {
      return Refuse(r, field, absl::StrCat("key ", st.message()));
    }
    if (auto st = CheckAttributeValue(value); !st.ok()) {
      return Refuse(r, field, absl::StrCat("value ", QuoteForMessage(value), " ", st.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRegistration(const gantry::v1::RegisterRequest& r) {
  if (auto st = CheckNodeName(r.node_name()); !st.ok()) return Refuse(r, "node_name", st.message());
  if (auto st = CheckZone(r.zone()); !st.ok()) {
    return Refuse(r, "zone", absl::StrCat(QuoteForMessage(r.zone()), " ", st.message()));
  }
  if (auto st = CheckAttributes(r); !st.ok()) return st;
  if (auto st = CheckIpLiteral(r.address()); !st.ok()) {
    return Refuse(r, "address", absl::StrCat(QuoteForMessage(r.address()), " ", st.message()));
  }
  if (!r.metrics_address().empty()) {
    if (auto st = CheckHostPort(r.metrics_address()); !st.ok()) {
      return Refuse(r, "metrics_address",
                    absl::StrCat(QuoteForMessage(r.metrics_address()), " ", st.message()));
    }
  }
  if (r.capacity().cpu() <= 0 || r.capacity().memory() <= 0) {
    return Refuse(r, "capacity",
                  absl::StrCat("cpu and memory must be positive, got cpu ", r.capacity().cpu(),
                               "m, memory ", r.capacity().memory()));
  }
  if (r.capacity().cpu() > kMaxNodeCpu || r.capacity().memory() > kMaxNodeMemory) {
    return Refuse(r, "capacity",
                  absl::StrCat("at most ", kMaxNodeCpu, "m cpu and ", kMaxNodeMemory,
                               " bytes of memory, got cpu ", r.capacity().cpu(), "m, memory ",
                               r.capacity().memory()));
  }
  if (r.port_range_start() == 0 || r.port_range_end() < r.port_range_start() ||
      r.port_range_end() > 65535) {
    return Refuse(r, "port_range",
                  absl::StrCat("must be FIRST-LAST with 1 <= FIRST <= LAST <= 65535, got ",
                               r.port_range_start(), "-", r.port_range_end()));
  }
  if (auto st = CheckVersion(r.agent_version()); !st.ok()) {
    return Refuse(r, "agent_version",
                  absl::StrCat(QuoteForMessage(r.agent_version()), " ", st.message()));
  }
  return absl::OkStatus();
}

}  // namespace gantry::nodes
