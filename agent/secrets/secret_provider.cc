#include "agent/secrets/secret_provider.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/spec/secret_refs.h"

namespace gantry::agent {

absl::StatusOr<std::vector<ContainerSecrets>> SecretProvider::Prepare(
    const gantry::v1::TaskAssignment& a) {
  std::vector<ContainerSecrets> out(a.containers_size());
  bool any = false;
  for (const auto& c : a.containers()) any |= !c.secrets().empty();
  if (!any) return out;
  if (source_ == nullptr) {
    return absl::FailedPreconditionError("this agent has no way to fetch secrets");
  }
  auto fetched = source_->Fetch(a.task_id());
  if (!fetched.ok()) return fetched.status();
  std::map<std::pair<std::string, int64_t>, const std::string*> values;
  for (const auto& v : fetched->secrets()) values[{v.name(), v.version()}] = &v.value();
  int file_index = 0;
  for (int i = 0; i < a.containers_size(); ++i) {
    for (const auto& ref_in : a.containers(i).secrets()) {
      auto ref = spec::ParseSecretRef(ref_in.value_from());
      if (!ref.ok()) return ref.status();
      int64_t version = ref->version;
      if (version == 0) {
        auto pin = a.secret_versions().find(ref->name);
        version = pin == a.secret_versions().end() ? 0 : pin->second;
      }
      auto value = values.find({ref->name, version});
      if (value == values.end()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the control plane sent no value for secret ", ref->name, " version ", version));
      }
      if (!ref_in.name().empty()) {
        out[i].env.push_back(absl::StrCat(ref_in.name(), "=", *value->second));
        continue;
      }
      auto path = files_->Write(a.task_id(), file_index++, *value->second);
      if (!path.ok()) return path.status();
      out[i].mounts.push_back(BindMount{*path, ref_in.file(), true});
    }
  }
  return out;
}

}  // namespace gantry::agent
