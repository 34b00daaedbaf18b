#include "controlplane/api/permissions.h"

#include <set>

#include "common/spec/sandbox.h"
#include "common/spec/secret_refs.h"

namespace gantry::api {

using identity::Permission;
using identity::Verb;

std::vector<Permission> ApplyPermissions(const gantry::v1::ApplyRequest& request) {
  std::vector<Permission> out;
  for (const auto& td : request.task_definitions()) {
    out.push_back({Verb::kApply, "taskdefinitions", td.family()});
    // A task definition that references a secret hands its value to the
    // tasks, so referencing one needs apply on it.
    std::set<std::string> secrets;
    for (const auto& c : td.containers()) {
      for (const auto& s : c.secrets()) {
        if (auto ref = spec::ParseSecretRef(s.value_from()); ref.ok()) secrets.insert(ref->name);
      }
    }
    for (const auto& name : secrets) out.push_back({Verb::kApply, "secrets", name});
    // A capability beyond the default set is a privilege on the node.
    std::set<std::string> caps;
    for (const auto& c : td.containers()) {
      for (auto& cap : spec::AddedCapabilities(c)) caps.insert(std::move(cap));
    }
    for (const auto& cap : caps) out.push_back({Verb::kUse, "capabilities", cap});
    // The node's network (its loopback, every port) is a privilege too.
    if (td.network_mode() == "host") out.push_back({Verb::kUse, "networks", "host"});
  }
  for (const auto& s : request.services()) out.push_back({Verb::kApply, "services", s.name()});
  for (const auto& r : request.roles()) out.push_back({Verb::kApply, "roles", r.name()});
  for (const auto& acl : request.network_acls()) {
    out.push_back({Verb::kApply, "networkacls", acl.name()});
  }
  if (out.empty()) out.push_back({Verb::kApply, "services", ""});
  return out;
}

std::string FamilyOf(const std::string& reference) {
  return reference.substr(0, reference.find(':'));
}

void RedactEnvironment(const identity::Identity& who, const identity::Authorizer& authorizer,
                       gantry::v1::TaskDefinition& definition) {
  if (authorizer.Allowed(who, {Verb::kApply, "taskdefinitions", definition.family()})) return;
  for (auto& container : *definition.mutable_containers()) {
    for (auto& [name, value] : *container.mutable_environment()) value = kRedacted;
  }
}

}  // namespace gantry::api
