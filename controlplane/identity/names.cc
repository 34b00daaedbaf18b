#include "controlplane/identity/names.h"

#include "absl/strings/str_cat.h"

namespace gantry::identity {

absl::Status ValidateNodeName(const std::string& name) {
  auto bad = [&](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node name \"", name.size() > 80 ? name.substr(0, 80) + "..." : name, "\": ", why,
        " (a DNS label: 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-')"));
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 63) return bad("is longer than 63 characters");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return bad("has a character other than a-z, 0-9 and '-'");
  }
  if (name.front() == '-' || name.back() == '-') return bad("starts or ends with '-'");
  return absl::OkStatus();
}

}  // namespace gantry::identity
