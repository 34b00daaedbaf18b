#include "controlplane/secrets/task_secrets.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "controlplane/secrets/secret_usage.h"

namespace gantry::secrets {

absl::StatusOr<gantry::v1::TaskSecrets> TaskSecretsFor(const state::ClusterState& state,
                                                       const SecretRegistry& registry,
                                                       const std::string& node,
                                                       const std::string& task_id) {
  const auto task = state.GetTask(task_id);
  if (!task || task->value.node() != node ||
      task->value.desired_status() != gantry::v1::Task::RUNNING) {
    return absl::PermissionDeniedError(absl::StrCat("node ", node,
                                                    " may not read the secrets of task ", task_id,
                                                    ": no such task is assigned to it"));
  }
  const auto td = state.ResolveTaskDefinition(task->value.task_definition());
  if (!td) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", task_id, " runs ", task->value.task_definition(), ", which does not exist"));
  }
  gantry::v1::TaskSecrets out;
  std::set<std::pair<std::string, int64_t>> seen;
  const auto& pins = task->value.secret_versions();
  for (const auto& ref : References(*td)) {
    int64_t version = ref.version;
    if (version == 0) {
      auto it = pins.find(ref.name);
      if (it == pins.end() || it->second == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "task ", task_id, ": its deployment pinned no version of secret ", ref.name,
            " (it did not exist when the deployment started); create it and deploy again"));
      }
      version = it->second;
    }
    if (!seen.insert({ref.name, version}).second) continue;
    auto revealed = registry.Reveal(ref.name, version);
    if (!revealed.ok()) {
      return absl::Status(revealed.status().code(),
                          absl::StrCat("task ", task_id, ": ", revealed.status().message()));
    }
    auto* v = out.add_secrets();
    v->set_name(ref.name);
    v->set_version(version);
    v->set_value(std::move(revealed->value));
  }
  return out;
}

}  // namespace gantry::secrets
