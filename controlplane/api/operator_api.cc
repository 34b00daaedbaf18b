#include "controlplane/api/operator_api.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/spec/validation.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/api/task_pages.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/state/keys.h"

namespace gantry::api {

using gantry::v1::Service;
using gantry::v1::TaskDefinition;
using google::protobuf::util::MessageDifferencer;

OperatorApi::OperatorApi(state::ClusterState* state, events::EventLog* events,
                         nodes::NodeManager* nodes, const Clock* clock,
                         const identity::RoleRegistry* roles, const secrets::SecretCatalog* secrets)
    : state_(state),
      events_(events),
      nodes_(nodes),
      clock_(clock),
      applier_(state, events, clock, roles, secrets) {}

absl::StatusOr<gantry::v1::ApplyResponse> OperatorApi::Apply(
    const gantry::v1::ApplyRequest& request) {
  return applier_.Apply(request);
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

absl::StatusOr<gantry::v1::ListNetworkAclsResponse> OperatorApi::ListNetworkAcls() {
  gantry::v1::ListNetworkAclsResponse out;
  for (auto& acl : state_->ListNetworkAcls()) *out.add_network_acls() = std::move(acl);
  return out;
}

absl::StatusOr<gantry::v1::NetworkAcl> OperatorApi::DeleteNetworkAcl(
    const gantry::v1::DeleteNetworkAclRequest& request) {
  const auto acl = state_->GetNetworkAcl(request.name());
  if (!acl) {
    return absl::NotFoundError(absl::StrCat("network ACL ", request.name(),
                                            " not found (list them with `gantryctl get "
                                            "networkacls`)"));
  }
  store::TxnRequest txn;
  const std::string key = state::NetworkAclKey(request.name());
  txn.compares.push_back({key, acl->mod_revision});
  txn.ops.push_back(store::Op::Delete(key));
  ASSIGN_OR_RETURN(auto result, state_->Commit(txn));
  if (!result.succeeded) {
    return absl::AbortedError(
        absl::StrCat("network ACL ", request.name(), " changed while being deleted; try again"));
  }
  events_->Record("", "", "", absl::StrCat("NetworkAcl ", request.name(), " deleted"));
  return acl->value;
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
    if (!node->value.task_subnet().empty()) {
      txn.ops.push_back(store::Op::Delete(state::SubnetKey(node->value.task_subnet())));
    }
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
  if (request.page_size() < 0 || request.page_size() > kMaxTaskPageSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size: must be between 0 and ", kMaxTaskPageSize, ", got ", request.page_size()));
  }
  state::ClusterState::TaskFilter filter{.service = request.service(),
                                         .node = request.node(),
                                         .include_stopped = request.include_stopped()};
  if (!request.page_token().empty()) {
    ASSIGN_OR_RETURN(filter.after, DecodeTaskPageToken(request.page_token()));
  }
  const size_t page = request.page_size() == 0 ? kDefaultTaskPageSize : request.page_size();
  // One more than the page tells whether another page follows.
  filter.limit = page + 1;
  auto tasks = state_->ListTasks(filter);
  gantry::v1::ListTasksResponse out;
  if (tasks.size() > page) {
    tasks.resize(page);
    out.set_next_page_token(EncodeTaskPageToken(tasks.back()));
  }
  for (auto& t : tasks) *out.add_tasks() = std::move(t);
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
    *d.mutable_secret_versions() = previous.secret_versions();
    d.set_secrets_pinned(previous.secrets_pinned());
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
