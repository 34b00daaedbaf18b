#include "controlplane/controllers/secret_pinner.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/secrets/secret_usage.h"

namespace gantry::controllers {

absl::Status SecretPinner::Pin(const gantry::v1::Service& service,
                               gantry::v1::Deployment& deployment,
                               const gantry::v1::TaskDefinition& td) {
  if (deployment.secrets_pinned()) return absl::OkStatus();
  const auto refs = secrets::References(td);
  if (refs.empty()) return absl::OkStatus();
  std::map<std::string, int64_t> pins;
  std::vector<std::string> missing;
  for (const auto& ref : refs) {
    if (ref.version != 0) {
      pins.emplace(ref.name, ref.version);  // an unpinned reference of the same name wins below
      continue;
    }
    const int64_t current = catalog_ != nullptr ? catalog_->CurrentVersion(ref.name) : 0;
    if (current == 0) missing.push_back(ref.name);
    pins[ref.name] = current;
  }
  const std::string id = deployment.id();
  auto st = state_->UpdateService(service.name(), [&](gantry::v1::Service& s) {
    auto* d = deployments::Find(s, id);
    if (d == nullptr || d->secrets_pinned()) return false;
    d->mutable_secret_versions()->clear();
    for (const auto& [name, version] : pins) (*d->mutable_secret_versions())[name] = version;
    d->set_secrets_pinned(true);
    return true;
  });
  if (!st.ok()) return st;
  std::vector<std::string> parts;
  for (const auto& [name, version] : pins) parts.push_back(absl::StrCat(name, "=", version));
  events_->Record(
      service.name(), "", "",
      absl::StrCat(
          "deployment ", id, " (", deployment.task_definition(),
          ") pins secret versions: ", absl::StrJoin(parts, ", "),
          missing.empty() ? "" : absl::StrCat("; missing: ", absl::StrJoin(missing, ", "))));
  for (const auto& [name, version] : pins) {
    (*deployment.mutable_secret_versions())[name] = version;
  }
  deployment.set_secrets_pinned(true);
  return absl::OkStatus();
}

}  // namespace gantry::controllers
