#include "controlplane/identity/names.h"

#include "absl/strings/str_cat.h"
#include "common/node_fields.h"

namespace gantry::identity {

absl::Status ValidateNodeName(const std::string& name) {
  absl::Status st = CheckNodeName(name);
  if (st.ok()) return st;
  return absl::InvalidArgumentError(
      absl::StrCat("node name ", QuoteForMessage(name), ": ", st.message()));
}

}  // namespace gantry::identity
