#include "controlplane/secrets/secret_usage.h"

namespace gantry::secrets {

using gantry::v1::Deployment;
using gantry::v1::Service;

std::vector<spec::SecretRef> References(const gantry::v1::TaskDefinition& td) {
  std::vector<spec::SecretRef> out;
  for (const auto& c : td.containers()) {
    for (const auto& s : c.secrets()) {
      if (auto ref = spec::ParseSecretRef(s.value_from()); ref.ok()) out.push_back(*ref);
    }
  }
  return out;
}

bool ReferencesSecret(const gantry::v1::TaskDefinition& td, const std::string& name) {
  for (const auto& ref : References(td)) {
    if (ref.name == name) return true;
  }
  return false;
}

bool FollowsSecret(const gantry::v1::TaskDefinition& td, const std::string& name) {
  for (const auto& ref : References(td)) {
    if (ref.name == name && ref.version == 0) return true;
  }
  return false;
}

std::vector<std::string> ServicesUsing(const state::ClusterState& state, const std::string& name) {
  std::vector<std::string> out;
  for (const Service& s : state.ListServices()) {
    if (s.status() == Service::DELETING) continue;
    for (const Deployment& d : s.deployments()) {
      if (d.status() == Deployment::INACTIVE) continue;
      const auto td = state.ResolveTaskDefinition(d.task_definition());
      if (td && ReferencesSecret(*td, name)) {
        out.push_back(s.name());
        break;
      }
    }
  }
  return out;  // ListServices is sorted by name
}

std::set<int64_t> PinnedVersions(const state::ClusterState& state, const std::string& name) {
  std::set<int64_t> out;
  for (const Service& s : state.ListServices()) {
    for (const Deployment& d : s.deployments()) {
      if (auto it = d.secret_versions().find(name); it != d.secret_versions().end()) {
        out.insert(it->second);
      }
    }
  }
  return out;
}

}  // namespace gantry::secrets
