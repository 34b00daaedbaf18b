#include "controlplane/api/applier.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/access/role_validation.h"
#include "common/spec/network_rules.h"
#include "common/spec/secret_refs.h"
#include "common/spec/validation.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/state/keys.h"

namespace gantry::api {

using gantry::v1::Service;
using gantry::v1::TaskDefinition;
using google::protobuf::util::MessageDifferencer;

namespace {

// Same containers on the same network: nothing for a new revision.
bool SameContainers(const TaskDefinition& a, const TaskDefinition& b) {
  if (spec::NetworkModeOf(a) != spec::NetworkModeOf(b)) return false;
  if (a.containers_size() != b.containers_size()) return false;
  for (int i = 0; i < a.containers_size(); ++i) {
    if (!MessageDifferencer::Equals(a.containers(i), b.containers(i))) return false;
  }
  return true;
}

std::string Ref(const TaskDefinition& td) { return absl::StrCat(td.family(), ":", td.revision()); }

// A new revision or new settings make a new deployment; a new count only
// resizes the current one.
bool NeedsNewDeployment(const Service& before, const Service& after) {
  return deployments::Primary(before) == nullptr ||
         before.resolved_task_definition() != after.resolved_task_definition() ||
         !MessageDifferencer::Equals(before.placement(), after.placement()) ||
         !MessageDifferencer::Equals(before.deployment_configuration(),
                                     after.deployment_configuration()) ||
         !MessageDifferencer::Equals(before.load_balancer(), after.load_balancer());
}

// Every load balancer port of `s`, with the field that names it.
std::vector<std::pair<int, std::string>> Listeners(const Service& s) {
  std::vector<std::pair<int, std::string>> out;
  if (!s.has_load_balancer()) return out;
  out.emplace_back(s.load_balancer().port(), "port");
  if (s.load_balancer().test_port() != 0) {
    out.emplace_back(s.load_balancer().test_port(), "testPort");
  }
  return out;
}

}  // namespace

absl::Status ValidateApply(const gantry::v1::ApplyRequest& request) {
  std::set<std::string> families;
  for (const auto& td_in : request.task_definitions()) {
    TaskDefinition td = td_in;
    spec::ApplyDefaults(td);
    RETURN_IF_ERROR(spec::ErrorsToStatus(absl::StrCat("TaskDefinition ", td.family()),
                                         spec::ValidateTaskDefinition(td)));
    if (!families.insert(td.family()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("TaskDefinition ", td.family(), ": defined twice in one apply"));
    }
  }
  std::set<std::string> names;
  for (const auto& s : request.services()) {
    RETURN_IF_ERROR(
        spec::ErrorsToStatus(absl::StrCat("Service ", s.name()), spec::ValidateService(s)));
    if (!names.insert(s.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Service ", s.name(), ": defined twice in one apply"));
    }
  }
  std::set<std::string> roles;
  for (const auto& r : request.roles()) {
    RETURN_IF_ERROR(spec::ErrorsToStatus(absl::StrCat("Role ", r.name()), access::ValidateRole(r)));
    if (!roles.insert(r.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Role ", r.name(), ": defined twice in one apply"));
    }
  }
  std::set<std::string> acls;
  for (const auto& acl : request.network_acls()) {
    RETURN_IF_ERROR(spec::ErrorsToStatus(absl::StrCat("NetworkAcl ", acl.name()),
                                         spec::ValidateNetworkAcl(acl)));
    if (!acls.insert(acl.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("NetworkAcl ", acl.name(), ": defined twice in one apply"));
    }
  }
  return absl::OkStatus();
}

Service MergeService(const Service& stored, const Service& in, const std::string& resolved) {
  Service s = stored;
  s.clear_running_count();
  s.clear_pending_count();
  s.set_name(in.name());
  s.set_task_definition(in.task_definition());
  s.set_desired_count(in.desired_count());
  if (in.has_autoscaling()) {
    // The autoscaler owns the count: applying again keeps the count it
    // chose (within the new bounds); a new service starts at its
    // desiredCount within minCount..maxCount.
    const auto& a = in.autoscaling();
    const int base = stored.has_autoscaling() ? stored.desired_count() : in.desired_count();
    s.set_desired_count(std::clamp(base, a.min_count(), std::max(a.min_count(), a.max_count())));
    *s.mutable_autoscaling() = a;
  } else {
    s.clear_autoscaling();
    s.clear_autoscaling_status();
  }
  *s.mutable_placement() = in.placement();
  if (in.has_zone_rebalancing()) {
    s.set_zone_rebalancing(in.zone_rebalancing());
  } else {
    s.clear_zone_rebalancing();
  }
  *s.mutable_deployment_configuration() = in.deployment_configuration();
  *s.mutable_load_balancer() = in.load_balancer();
  if (!in.has_load_balancer()) s.clear_load_balancer();
  *s.mutable_ingress() = in.ingress();
  s.set_resolved_task_definition(resolved);
  s.set_status(Service::ACTIVE);
  return s;
}

absl::StatusOr<gantry::v1::ApplyResponse> Applier::Apply(
    const gantry::v1::ApplyRequest& request) const {
  // Validate everything before touching anything.
  RETURN_IF_ERROR(ValidateApply(request));
  RETURN_IF_ERROR(CheckSecrets(request));
  for (int attempt = 0; attempt < 20; ++attempt) {
    Attempt a;
    a.now = ToProtoTime(clock_->Now());
    ASSIGN_OR_RETURN(bool committed, TryApply(request, a));
    if (!committed) continue;
    RecordEvents(a);
    for (auto& w : ApplyWarnings(request)) a.response.add_warnings(std::move(w));
    return std::move(a.response);
  }
  return absl::AbortedError("apply: the state kept changing underneath; try again");
}

absl::Status Applier::CheckSecrets(const gantry::v1::ApplyRequest& request) const {
  for (const auto& td : request.task_definitions()) {
    for (int i = 0; i < td.containers_size(); ++i) {
      for (int j = 0; j < td.containers(i).secrets_size(); ++j) {
        const std::string field = absl::StrCat("TaskDefinition ", td.family(), ": containers[", i,
                                               "].secrets[", j, "].valueFrom: ");
        auto ref = spec::ParseSecretRef(td.containers(i).secrets(j).value_from());
        if (!ref.ok()) continue;  // ValidateApply refused it already
        if (secrets_ == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat(field, "this control plane keeps no secrets"));
        }
        const int64_t current = secrets_->CurrentVersion(ref->name);
        if (current == 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              field, "no secret \"", ref->name, "\"",
              spec::DidYouMean(ref->name, secrets_->Names()),
              "; create it first: gantryctl secret create ", ref->name, " --from-file FILE"));
        }
        if (ref->version != 0 && !secrets_->HasVersion(ref->name, ref->version)) {
          return absl::InvalidArgumentError(
              absl::StrCat(field, "secret ", ref->name, " has no version ", ref->version,
                           " (its current version is ", current, ")"));
        }
      }
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ApplyWarnings(const gantry::v1::ApplyRequest& request) {
  std::vector<std::string> out;
  for (const auto& td : request.task_definitions()) {
    for (const auto& field : spec::CredentialLikeEnvironment(td)) {
      out.push_back(absl::StrCat("TaskDefinition ", td.family(), ": ", field,
                                 " looks like a credential kept in plain text in the task "
                                 "definition; keep it in a secret (gantryctl secret create) "
                                 "and reference it under secrets:"));
    }
  }
  return out;
}

void Applier::RecordEvents(const Attempt& a) const {
  for (const auto& r : a.response.results()) {
    if (r.action() == "unchanged") continue;
    events_->Record(r.kind() == "Service" ? r.name() : "", "", "",
                    absl::StrCat(r.kind(), " ", r.name(), " ", r.action()));
  }
  for (const auto& m : a.messages) {
    const auto space = m.find(' ');
    events_->Record(m.substr(0, space), "", "", m.substr(space + 1));
  }
}

absl::StatusOr<bool> Applier::TryApply(const gantry::v1::ApplyRequest& request, Attempt& a) const {
  StageTaskDefinitions(request, a);
  for (const auto& in : request.services()) RETURN_IF_ERROR(StageService(in, request, a));
  RETURN_IF_ERROR(StageRoles(request, a));
  StageNetworkAcls(request, a);
  auto committed = state_->Commit(a.txn);
  if (!committed.ok()) return committed.status();
  return committed->succeeded;
}

void Applier::StageTaskDefinitions(const gantry::v1::ApplyRequest& request, Attempt& a) const {
  const auto& now = a.now;
  for (const auto& td_in : request.task_definitions()) {
    TaskDefinition td = td_in;
    spec::ApplyDefaults(td);
    td.clear_created_at();
    const auto current = state_->GetTaskDefinition(td.family(), 0);
    auto* result = a.response.add_results();
    result->set_kind("TaskDefinition");
    if (current && SameContainers(*current, td)) {
      a.latest[td.family()] = current->revision();
      result->set_name(Ref(*current));
      result->set_action("unchanged");
      continue;
    }
    td.set_revision(current ? current->revision() + 1 : 1);
    *td.mutable_created_at() = now;
    a.latest[td.family()] = td.revision();
    const std::string key = state::TaskDefKey(td.family(), td.revision());
    a.txn.compares.push_back({key, 0});
    a.txn.ops.push_back(store::Op::Put(key, td.SerializeAsString()));
    result->set_name(Ref(td));
    result->set_action("created");
  }
}

absl::Status Applier::StageRoles(const gantry::v1::ApplyRequest& request, Attempt& a) const {
  if (request.roles().empty()) return absl::OkStatus();
  if (roles_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("Role ", request.roles(0).name(), ": this control plane keeps no roles"));
  }
  for (const auto& in : request.roles()) {
    ASSIGN_OR_RETURN(const std::string action, roles_->Stage(in, a.now, a.txn));
    auto* result = a.response.add_results();
    result->set_kind("Role");
    result->set_name(in.name());
    result->set_action(action);
  }
  return absl::OkStatus();
}

void Applier::StageNetworkAcls(const gantry::v1::ApplyRequest& request, Attempt& a) const {
  for (const auto& in : request.network_acls()) {
    const auto existing = state_->GetNetworkAcl(in.name());
    gantry::v1::NetworkAcl acl = in;
    acl.clear_created_at();
    acl.clear_updated_at();
    auto* result = a.response.add_results();
    result->set_kind("NetworkAcl");
    result->set_name(in.name());
    if (existing) {
      gantry::v1::NetworkAcl before = existing->value;
      before.clear_created_at();
      before.clear_updated_at();
      if (MessageDifferencer::Equals(before, acl)) {
        result->set_action("unchanged");
        continue;
      }
    }
    *acl.mutable_created_at() = existing ? existing->value.created_at() : a.now;
    *acl.mutable_updated_at() = a.now;
    result->set_action(existing ? "updated" : "created");
    const std::string key = state::NetworkAclKey(in.name());
    a.txn.compares.push_back({key, existing ? existing->mod_revision : 0});
    a.txn.ops.push_back(store::Op::Put(key, acl.SerializeAsString()));
  }
}

absl::StatusOr<std::string> Applier::Resolve(const Service& in, const Attempt& a) const {
  ASSIGN_OR_RETURN(auto ref, spec::ParseTaskDefinitionRef(in.task_definition()));
  int64_t revision = ref.revision;
  auto known = a.latest.find(ref.family);
  const auto stored_latest = state_->GetTaskDefinition(ref.family, 0);
  const int64_t newest = known != a.latest.end() ? known->second
                         : stored_latest         ? stored_latest->revision()
                                                 : 0;
  if (newest == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Service ", in.name(), ": taskDefinition ", in.task_definition(),
        ": no task definition family ", ref.family,
        " exists; apply a TaskDefinition with that family first (or in the same file)"));
  }
  if (revision == 0) revision = newest;
  if (revision > newest) {
    return absl::FailedPreconditionError(
        absl::StrCat("Service ", in.name(), ": taskDefinition ", in.task_definition(),
                     ": no such revision (the latest is ", ref.family, ":", newest, ")"));
  }
  return absl::StrCat(ref.family, ":", revision);
}

absl::Status Applier::CheckTargetPort(const Service& in, const gantry::v1::ApplyRequest& request,
                                      const Attempt& a, const std::string& resolved) const {
  if (!in.has_load_balancer()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto ref, spec::ParseTaskDefinitionRef(resolved));
  auto td = state_->GetTaskDefinition(ref.family, ref.revision);
  const TaskDefinition* target = td ? &*td : nullptr;
  const auto latest = a.latest.find(ref.family);
  for (const auto& pending : request.task_definitions()) {
    if (pending.family() == ref.family && latest != a.latest.end() &&
        ref.revision == latest->second && !(td && td->revision() == ref.revision)) {
      target = &pending;
    }
  }
  bool found = false;
  if (target != nullptr) {
    for (const auto& c : target->containers()) {
      for (const auto& pm : c.port_mappings())
        found |= pm.name() == in.load_balancer().target_port();
    }
  }
  if (found) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("Service ", in.name(), ": loadBalancer.targetPort: \"",
                   in.load_balancer().target_port(), "\" is not the name of a port of ", resolved));
}

absl::Status Applier::CheckListenersFree(const Service& in,
                                         const gantry::v1::ApplyRequest& request) const {
  if (!in.has_load_balancer()) return absl::OkStatus();
  // Every load balancer port belongs to one service: HAProxy would merge two
  // services' backends behind one listener. The services of this request
  // count, and the stored ones it does not replace.
  std::vector<Service> others(request.services().begin(), request.services().end());
  for (auto& stored : state_->ListServices()) {
    const bool replaced = std::any_of(others.begin(), others.end(),
                                      [&](const Service& o) { return o.name() == stored.name(); });
    if (!replaced) others.push_back(std::move(stored));
  }
  for (const auto& [port, field] : Listeners(in)) {
    for (const auto& other : others) {
      if (other.name() == in.name()) continue;
      for (const auto& [taken, other_field] : Listeners(other)) {
        if (taken != port) continue;
        return absl::FailedPreconditionError(
            absl::StrCat("Service ", in.name(), ": loadBalancer.", field, ": port ", port,
                         " is already the loadBalancer.", other_field, " of service ", other.name(),
                         "; choose a free port"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Applier::StageService(const Service& in, const gantry::v1::ApplyRequest& request,
                                   Attempt& a) const {
  ASSIGN_OR_RETURN(const std::string resolved, Resolve(in, a));
  const auto existing = state_->GetService(in.name());
  auto* result = a.response.add_results();
  result->set_kind("Service");
  result->set_name(in.name());
  if (existing && existing->value.status() == Service::DELETING) {
    return absl::FailedPreconditionError(
        absl::StrCat("Service ", in.name(),
                     ": is being deleted; apply it again once its tasks have stopped "
                     "(watch with `gantryctl describe service ",
                     in.name(), "`)"));
  }
  RETURN_IF_ERROR(CheckTargetPort(in, request, a, resolved));
  RETURN_IF_ERROR(CheckListenersFree(in, request));
  Service before = existing ? existing->value : Service();
  before.clear_running_count();
  before.clear_pending_count();
  Service s = MergeService(before, in, resolved);
  if (existing && MessageDifferencer::Equals(before, s)) {
    result->set_action("unchanged");
    if (const auto* p = deployments::Primary(s)) result->set_deployment(p->id());
    return absl::OkStatus();
  }
  if (!existing || NeedsNewDeployment(before, s)) {
    const auto& d = deployments::Start(s, resolved, FromProtoTime(a.now));
    result->set_deployment(d.id());
    a.messages.push_back(absl::StrCat(in.name(), " deployment ", d.id(), " of ", resolved,
                                      " started (", d.strategy(), ")"));
  } else if (auto* primary = deployments::Primary(s)) {
    primary->set_desired_count(s.desired_count());
    result->set_deployment(primary->id());
  }
  if (!existing) *s.mutable_created_at() = a.now;
  *s.mutable_updated_at() = a.now;
  result->set_action(existing ? "updated" : "created");
  if (existing && before.resolved_task_definition() != resolved) {
    a.messages.push_back(absl::StrCat(in.name(), " rolling from ",
                                      before.resolved_task_definition(), " to ", resolved));
  }
  if (existing && before.desired_count() != s.desired_count()) {
    a.messages.push_back(absl::StrCat(in.name(), " desired count ", before.desired_count(), " -> ",
                                      s.desired_count()));
  }
  a.txn.compares.push_back({state::ServiceKey(in.name()), existing ? existing->mod_revision : 0});
  a.txn.ops.push_back(store::Op::Put(state::ServiceKey(in.name()), s.SerializeAsString()));
  return absl::OkStatus();
}

}  // namespace gantry::api
