#include "controlplane/api/operator_api.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
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

bool SameContainers(const TaskDefinition& a, const TaskDefinition& b) {
  if (a.containers_size() != b.containers_size()) return false;
  for (int i = 0; i < a.containers_size(); ++i) {
    if (!MessageDifferencer::Equals(a.containers(i), b.containers(i))) return false;
  }
  return true;
}

std::string Ref(const TaskDefinition& td) { return absl::StrCat(td.family(), ":", td.revision()); }

}  // namespace

OperatorApi::OperatorApi(state::ClusterState* state, events::EventLog* events,
                         nodes::NodeManager* nodes, const Clock* clock)
    : state_(state), events_(events), nodes_(nodes), clock_(clock) {}

absl::StatusOr<gantry::v1::ApplyResponse> OperatorApi::Apply(
    const gantry::v1::ApplyRequest& request) {
  // Validate everything before touching anything.
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
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::vector<std::string> messages;
    bool conflict = false;
    auto response = TryApply(request, messages, conflict);
    if (!response.ok()) return response.status();
    if (conflict) continue;
    for (const auto& r : response->results()) {
      if (r.action() == "unchanged") continue;
      events_->Record(r.kind() == "Service" ? r.name() : "", "", "",
                      absl::StrCat(r.kind(), " ", r.name(), " ", r.action()));
    }
    for (const auto& m : messages) {
      const auto space = m.find(' ');
      events_->Record(m.substr(0, space), "", "", m.substr(space + 1));
    }
    return response;
  }
  return absl::AbortedError("apply: the state kept changing underneath; try again");
}

absl::Status OperatorApi::CheckListenersFree(const Service& in,
                                             const gantry::v1::ApplyRequest& request) const {
  if (!in.has_load_balancer()) return absl::OkStatus();
  // Every load balancer port belongs to one service: HAProxy would merge two
  // services' backends behind one listener.
  auto listeners = [](const Service& s) {
    std::vector<std::pair<int, std::string>> out;
    if (!s.has_load_balancer()) return out;
    out.emplace_back(s.load_balancer().port(), "port");
    if (s.load_balancer().test_port() != 0) {
      out.emplace_back(s.load_balancer().test_port(), "testPort");
    }
    return out;
  };
  // The services of this request, and the stored ones it does not replace.
  std::vector<Service> others(request.services().begin(), request.services().end());
  for (auto& stored : state_->ListServices()) {
    const bool replaced = std::any_of(others.begin(), others.end(),
                                      [&](const Service& o) { return o.name() == stored.name(); });
    if (!replaced) others.push_back(std::move(stored));
  }
  for (const auto& [port, field] : listeners(in)) {
    for (const auto& other : others) {
      if (other.name() == in.name()) continue;
      for (const auto& [taken, other_field] : listeners(other)) {
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

absl::StatusOr<gantry::v1::ApplyResponse> OperatorApi::TryApply(
    const gantry::v1::ApplyRequest& request, std::vector<std::string>& messages, bool& conflict) {
  const auto now = ToProtoTime(clock_->Now());
  gantry::v1::ApplyResponse response;
  store::TxnRequest txn;
  // Family -> the revision a service naming just the family resolves to.
  std::map<std::string, int64_t> latest;

  for (const auto& td_in : request.task_definitions()) {
    TaskDefinition td = td_in;
    spec::ApplyDefaults(td);
    td.clear_created_at();
    const auto current = state_->GetTaskDefinition(td.family(), 0);
    auto* result = response.add_results();
    result->set_kind("TaskDefinition");
    if (current && SameContainers(*current, td)) {
      latest[td.family()] = current->revision();
      result->set_name(Ref(*current));
      result->set_action("unchanged");
      continue;
    }
    td.set_revision(current ? current->revision() + 1 : 1);
    *td.mutable_created_at() = now;
    latest[td.family()] = td.revision();
    const std::string key = state::TaskDefKey(td.family(), td.revision());
    txn.compares.push_back({key, 0});
    txn.ops.push_back(store::Op::Put(key, td.SerializeAsString()));
    result->set_name(Ref(td));
    result->set_action("created");
  }

  for (const auto& in : request.services()) {
    ASSIGN_OR_RETURN(auto ref, spec::ParseTaskDefinitionRef(in.task_definition()));
    int64_t revision = ref.revision;
    auto known = latest.find(ref.family);
    const auto stored_latest = state_->GetTaskDefinition(ref.family, 0);
    const int64_t newest = known != latest.end() ? known->second
                           : stored_latest       ? stored_latest->revision()
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
    const std::string resolved = absl::StrCat(ref.family, ":", revision);

    const auto existing = state_->GetService(in.name());
    Service s = existing ? existing->value : Service();
    s.clear_running_count();
    s.clear_pending_count();
    auto* result = response.add_results();
    result->set_kind("Service");
    result->set_name(in.name());
    if (existing && s.status() == Service::DELETING) {
      return absl::FailedPreconditionError(
          absl::StrCat("Service ", in.name(),
                       ": is being deleted; apply it again once its tasks have stopped "
                       "(watch with `gantryctl describe service ",
                       in.name(), "`)"));
    }
    // The load balancer must send traffic to one of the revision's ports.
    if (in.has_load_balancer()) {
      auto td = state_->GetTaskDefinition(ref.family, revision);
      const TaskDefinition* target = td ? &*td : nullptr;
      for (const auto& pending : request.task_definitions()) {
        if (pending.family() == ref.family && revision == latest[ref.family] &&
            !(td && td->revision() == revision)) {
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
      if (!found) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Service ", in.name(), ": loadBalancer.targetPort: \"",
            in.load_balancer().target_port(), "\" is not the name of a port of ", resolved));
      }
    }
    RETURN_IF_ERROR(CheckListenersFree(in, request));
    const Service before = s;
    s.set_name(in.name());
    s.set_task_definition(in.task_definition());
    s.set_desired_count(in.desired_count());
    if (in.has_autoscaling()) {
      // The autoscaler owns the count: applying again keeps the count it
      // chose (within the new bounds); a new service starts at its
      // desiredCount within minCount..maxCount.
      const auto& a = in.autoscaling();
      const int base = before.has_autoscaling() ? before.desired_count() : in.desired_count();
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
    s.set_resolved_task_definition(resolved);
    s.set_status(Service::ACTIVE);
    if (existing && MessageDifferencer::Equals(before, s)) {
      result->set_action("unchanged");
      if (const auto* p = deployments::Primary(s)) result->set_deployment(p->id());
      continue;
    }
    // A new revision or new settings make a new deployment; a new count
    // only resizes the current one.
    const bool new_deployment =
        !existing || deployments::Primary(before) == nullptr ||
        before.resolved_task_definition() != resolved ||
        !MessageDifferencer::Equals(before.placement(), s.placement()) ||
        !MessageDifferencer::Equals(before.deployment_configuration(),
                                    s.deployment_configuration()) ||
        !MessageDifferencer::Equals(before.load_balancer(), s.load_balancer());
    if (new_deployment) {
      const auto& d = deployments::Start(s, resolved, clock_->Now());
      result->set_deployment(d.id());
      messages.push_back(absl::StrCat(in.name(), " deployment ", d.id(), " of ", resolved,
                                      " started (", d.strategy(), ")"));
    } else if (auto* primary = deployments::Primary(s)) {
      primary->set_desired_count(s.desired_count());
      result->set_deployment(primary->id());
    }
    if (!existing) *s.mutable_created_at() = now;
    *s.mutable_updated_at() = now;
    result->set_action(existing ? "updated" : "created");
    if (existing && before.resolved_task_definition() != resolved) {
      messages.push_back(absl::StrCat(in.name(), " rolling from ",
                                      before.resolved_task_definition(), " to ", resolved));
    }
    if (existing && before.desired_count() != s.desired_count()) {
      messages.push_back(absl::StrCat(in.name(), " desired count ", before.desired_count(), " -> ",
                                      s.desired_count()));
    }
    txn.compares.push_back({state::ServiceKey(in.name()), existing ? existing->mod_revision : 0});
    txn.ops.push_back(store::Op::Put(state::ServiceKey(in.name()), s.SerializeAsString()));
  }

  auto committed = state_->Commit(txn);
  if (!committed.ok()) return committed.status();
  conflict = !committed->succeeded;
  return response;
}

absl::StatusOr<gantry::v1::ListTaskDefinitionsResponse> OperatorApi::ListTaskDefinitions(
    const gantry::v1::ListTaskDefinitionsRequest& request) {
  gantry::v1::ListTaskDefinitionsResponse out;
  for (auto& td : state_->ListTaskDefinitions(request.family())) {
    *out.add_task_definitions() = std::move(td);
  }
  return out;
}

absl::StatusOr<TaskDefinition> OperatorApi::GetTaskDefinition(
    const gantry::v1::GetTaskDefinitionRequest& request) {
  ASSIGN_OR_RETURN(auto ref, spec::ParseTaskDefinitionRef(request.reference()));
  auto td = state_->GetTaskDefinition(ref.family, ref.revision);
  if (!td) {
    return absl::NotFoundError(absl::StrCat("task definition ", request.reference(),
                                            " not found (list them with `gantryctl get "
                                            "taskdefs`)"));
  }
  return *td;
}

absl::StatusOr<gantry::v1::ListServicesResponse> OperatorApi::ListServices() {
  gantry::v1::ListServicesResponse out;
  for (auto& s : state_->ListServices()) *out.add_services() = std::move(s);
  return out;
}

absl::StatusOr<Service> OperatorApi::GetService(const gantry::v1::GetServiceRequest& request) {
  auto s = state_->GetService(request.name());
  if (!s) {
    return absl::NotFoundError(absl::StrCat("service ", request.name(),
                                            " not found (list them with `gantryctl get "
                                            "services`)"));
  }
  return s->value;
}

absl::StatusOr<Service> OperatorApi::ScaleService(const gantry::v1::ScaleServiceRequest& request) {
  if (request.desired_count() < 0 || request.desired_count() > spec::kMaxDesiredCount) {
    return absl::InvalidArgumentError(absl::StrCat(
        "count must be between 0 and ", spec::kMaxDesiredCount, ", got ", request.desired_count()));
  }
  int previous = 0;
  absl::Status refused;
  auto st = state_->UpdateService(request.name(), [&](Service& s) {
    if (s.status() == Service::DELETING) {
      refused = absl::FailedPreconditionError(
          absl::StrCat("service ", request.name(), " is being deleted"));
      return false;
    }
    previous = s.desired_count();
    if (previous == request.desired_count()) return false;
    s.set_desired_count(request.desired_count());
    if (auto* primary = deployments::Primary(s)) primary->set_desired_count(s.desired_count());
    *s.mutable_updated_at() = ToProtoTime(clock_->Now());
    return true;
  });
  if (absl::IsNotFound(st)) {
    return absl::NotFoundError(absl::StrCat("service ", request.name(), " not found"));
  }
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(refused);
  if (previous != request.desired_count()) {
    events_->Record(request.name(), "", "",
                    absl::StrCat("scaled from ", previous, " to ", request.desired_count()));
  }
  gantry::v1::GetServiceRequest get;
  get.set_name(request.name());
  return GetService(get);
}

absl::StatusOr<Service> OperatorApi::DeleteService(
    const gantry::v1::DeleteServiceRequest& request) {
  bool changed = false;
  auto st = state_->UpdateService(request.name(), [&](Service& s) {
    if (s.status() == Service::DELETING) return false;
    s.set_status(Service::DELETING);
    s.set_desired_count(0);
    *s.mutable_updated_at() = ToProtoTime(clock_->Now());
    changed = true;
    return true;
  });
  if (absl::IsNotFound(st)) {
    return absl::NotFoundError(absl::StrCat("service ", request.name(), " not found"));
  }
  RETURN_IF_ERROR(st);
  if (changed) events_->Record(request.name(), "", "", "deleting: stopping all tasks");
  gantry::v1::GetServiceRequest get;
  get.set_name(request.name());
  auto s = GetService(get);
  if (absl::IsNotFound(s.status())) {
    // Already gone: the controller removed it between our write and read.
    Service gone;
    gone.set_name(request.name());
    gone.set_status(Service::DELETING);
    return gone;
  }
  return s;
}

absl::StatusOr<gantry::v1::Node> OperatorApi::DeleteNode(
    const gantry::v1::DeleteNodeRequest& request) {
  using gantry::v1::Node;
  using gantry::v1::Task;
  const std::string& name = request.name();
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto node = state_->GetNode(name);
    if (!node) {
      return absl::NotFoundError(
          absl::StrCat("node ", name, " not found (list them with `gantryctl get nodes`)"));
    }
    if (node->value.status() != Node::DOWN || nodes_->IsConnected(name)) {
      return absl::FailedPreconditionError(
          absl::StrCat("node ", name, " is ", Node::Status_Name(node->value.status()),
                       " and its agent is connected; drain it (`gantryctl drain node ", name,
                       "`), stop its agent, and delete it once it is DOWN"));
    }
    store::TxnRequest txn;
    txn.compares.push_back({state::NodeKey(name), node->mod_revision});
    txn.ops.push_back(store::Op::Delete(state::NodeKey(name)));
    int stopped = 0;
    for (const auto& t : state_->ListTasks({.node = name, .include_stopped = true})) {
      if (t.last_status() == Task::STOPPED) continue;
      const auto stored = state_->GetTask(t.id());
      if (!stored) continue;
      Task done = stored->value;
      done.set_desired_status(Task::STOPPED);
      done.set_last_status(Task::STOPPED);
      if (done.stopped_reason().empty()) {
        done.set_stopped_reason(absl::StrCat("Node ", name, " was deleted"));
      }
      *done.mutable_stopped_at() = ToProtoTime(clock_->Now());
      txn.compares.push_back({state::TaskKey(t.id()), stored->mod_revision});
      txn.ops.push_back(store::Op::Put(state::TaskKey(t.id()), done.SerializeAsString()));
      stopped++;
    }
    auto result = state_->Commit(txn);
    if (!result.ok()) return result.status();
    if (!result->succeeded) continue;  // something changed meanwhile: look again
    events_->Record(
        "", "", name,
        absl::StrCat(
            "node ", name, " deleted",
            stopped > 0 ? absl::StrCat("; ", stopped, " task(s) recorded on it are STOPPED") : ""));
    return node->value;
  }
  return absl::AbortedError(absl::StrCat("delete node ", name, ": it kept changing; try again"));
}

absl::StatusOr<gantry::v1::ListTasksResponse> OperatorApi::ListTasks(
    const gantry::v1::ListTasksRequest& request) {
  gantry::v1::ListTasksResponse out;
  for (auto& t : state_->ListTasks({.service = request.service(),
                 .node = request.node(),
                 .include_stopped = request.include_stopped()})) {
    *out.add_tasks() = std::move(t);
  }
  return out;
}

absl::StatusOr<gantry::v1::Task> OperatorApi::GetTask(const gantry::v1::GetTaskRequest& request) {
  return state_->FindTask(request.id());
}

gantry::v1::Node OperatorApi::WithLiveness(gantry::v1::Node node) const {
  node.set_connected(nodes_->IsConnected(node.name()));
  const absl::Time heard = nodes_->LastHeard(node.name());
  if (heard != absl::UnixEpoch()) *node.mutable_last_heartbeat() = ToProtoTime(heard);
  // The system check first, then the agent's own.
  auto checks = node.checks();
  node.clear_checks();
  *node.add_checks() = nodes_->SystemCheck(node);
  for (auto& c : checks) *node.add_checks() = std::move(c);
  return node;
}

absl::StatusOr<gantry::v1::Node> OperatorApi::SetNodeStatus(
    const gantry::v1::SetNodeStatusRequest& request) {
  using gantry::v1::Node;
  if (request.status() != Node::ACTIVE && request.status() != Node::DRAINING) {
    return absl::InvalidArgumentError("a node can be set to ACTIVE or DRAINING only");
  }
  Node::Status before = Node::STATUS_UNSPECIFIED;
  const bool drain = request.status() == Node::DRAINING;
  bool intent_changed = false;
  auto st = state_->UpdateNode(request.name(), [&](Node& n) {
    before = n.status();
    intent_changed = n.drain_requested() != drain;
    n.set_drain_requested(drain);
    // A DOWN node stays DOWN; it comes back DRAINING or ACTIVE as asked.
    if (n.status() != Node::DOWN) n.set_status(request.status());
    return intent_changed || before != n.status();
  });
  if (absl::IsNotFound(st)) {
    return absl::NotFoundError(
        absl::StrCat("node ", request.name(), " not found (list them with `gantryctl get nodes`)"));
  }
  RETURN_IF_ERROR(st);
  if (before == Node::DOWN && intent_changed) {
    events_->Record("", "", request.name(),
                    absl::StrCat("node ", request.name(), " is DOWN; it will be ",
                                 Node::Status_Name(request.status()), " when its agent is back"));
  } else if (before != Node::DOWN && before != request.status()) {
    events_->Record("", "", request.name(),
                    request.status() == Node::DRAINING
                        ? absl::StrCat("node ", request.name(),
                                       " is DRAINING: no new tasks; its service tasks move "
                                       "elsewhere")
                        : absl::StrCat("node ", request.name(), " is ACTIVE again"));
  }
  gantry::v1::GetNodeRequest get;
  get.set_name(request.name());
  return GetNode(get);
}

absl::StatusOr<gantry::v1::ListNodesResponse> OperatorApi::ListNodes() {
  gantry::v1::ListNodesResponse out;
  for (auto& n : state_->ListNodes()) *out.add_nodes() = WithLiveness(std::move(n));
  return out;
}

absl::StatusOr<gantry::v1::Node> OperatorApi::GetNode(const gantry::v1::GetNodeRequest& request) {
  auto n = state_->GetNode(request.name());
  if (!n) {
    return absl::NotFoundError(
        absl::StrCat("node ", request.name(), " not found (list them with `gantryctl get nodes`)"));
  }
  return WithLiveness(n->value);
}

absl::StatusOr<gantry::v1::ListEventsResponse> OperatorApi::ListEvents(
    const gantry::v1::ListEventsRequest& request) {
  gantry::v1::ListEventsResponse out;
  const size_t limit = request.limit() > 0 ? static_cast<size_t>(request.limit()) : 100;
  for (auto& e : events_->List(request.service(), limit, request.after_id())) {
    *out.add_events() = std::move(e);
  }
  return out;
}

}  // namespace gantry::api

namespace gantry::api {

absl::StatusOr<gantry::v1::ListImagesResponse> OperatorApi::ListImages(
    const gantry::v1::ListImagesRequest& request) {
  if (!request.node().empty() && !state_->GetNode(request.node())) {
    return absl::NotFoundError(
        absl::StrCat("node ", request.node(), " not found (list them with `gantryctl get nodes`)"));
  }
  gantry::v1::ListImagesResponse out;
  for (auto& i : nodes_->Images(request.node())) *out.add_images() = std::move(i);
  return out;
}

}  // namespace gantry::api

namespace gantry::api {

absl::StatusOr<gantry::v1::Service> OperatorApi::UndoRollout(
    const gantry::v1::UndoRolloutRequest& request) {
  std::string message;
  absl::Status refused;
  auto st = state_->UpdateService(request.service(), [&](Service& s) {
    if (s.status() == Service::DELETING) {
      refused = absl::FailedPreconditionError(
          absl::StrCat("service ", request.service(), " is being deleted"));
      return false;
    }
    const auto* primary = deployments::Primary(s);
    const auto* target = deployments::LastCompleted(s, primary ? primary->id() : "");
    if (target == nullptr) {
      refused = absl::FailedPreconditionError(absl::StrCat(
          "service ", request.service(), " has no earlier COMPLETED deployment to return to"));
      return false;
    }
    const gantry::v1::Deployment previous = *target;
    auto& d = deployments::Start(s, previous.task_definition(), clock_->Now(),
                                 primary ? primary->id() : "");
    *d.mutable_image_pins() = previous.image_pins();
    d.set_images_pinned(previous.images_pinned());
    s.set_resolved_task_definition(previous.task_definition());
    *s.mutable_updated_at() = ToProtoTime(clock_->Now());
    message = absl::StrCat("rollout undo: deployment ", d.id(), " returns to ",
                           previous.task_definition(), " (", previous.id(), ")");
    return true;
  });
  if (absl::IsNotFound(st)) {
    return absl::NotFoundError(absl::StrCat("service ", request.service(), " not found"));
  }
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(refused);
  events_->Record(request.service(), "", "", message);
  gantry::v1::GetServiceRequest get;
  get.set_name(request.service());
  return GetService(get);
}

}  // namespace gantry::api
