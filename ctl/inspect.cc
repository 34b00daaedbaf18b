#include "ctl/inspect.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "ctl/access_commands.h"
#include "ctl/network_output.h"
#include "ctl/output.h"

namespace gantry::ctl {

using namespace gantry::v1;  // NOLINT: this file speaks only the operator API

int Inspect::Get(const std::string& kind_in, const std::string& name, const std::string& service,
                 const std::string& node, bool all) {
  const std::string kind = CanonicalKind(kind_in);
  const absl::Time now = absl::Now();
  if (kind == "service") return GetServices(name, now);
  if (kind == "autoscaling") return GetAutoscaling(name, now);
  if (kind == "task") return GetTasks(name, service, node, all, now);
  if (kind == "node") return GetNodes(name, now);
  if (kind == "taskdef") return GetTaskDefinitions(name, now);
  if (kind == "image") return GetImages(!node.empty() ? node : name, now);
  if (kind == "role") return AccessCommands(c_).ListRoles(name);
  if (kind == "controlplane") return GetControlPlanes(now);
  if (kind == "networkacl") return GetNetworkAcls(name);
  return c_.Fail(absl::InvalidArgumentError(
      absl::StrCat("get ", kind_in,
                   ": unknown kind (use services, tasks, nodes, taskdefs, images, roles, "
                   "networkacls or controlplanes)")));
}

int Inspect::Describe(const std::string& kind_in, const std::string& name) {
  const std::string kind = CanonicalKind(kind_in);
  const absl::Time now = absl::Now();
  if (kind == "service") return DescribeService(name, now);
  if (kind == "task") return DescribeTask(name, now);
  if (kind == "node") return DescribeNode(name, now);
  if (kind == "taskdef") return DescribeTaskDefinition(name);
  return c_.Fail(absl::InvalidArgumentError(
      absl::StrCat("describe ", kind_in, ": unknown kind (use service, task, node or taskdef)")));
}

int Inspect::GetNetworkAcls(const std::string& name) {
  ListNetworkAclsResponse resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListNetworkAcls(ctx.get(), {}, &resp); !st.ok()) {
    return c_.Fail(st, "get networkacls");
  }
  if (!name.empty()) {
    ListNetworkAclsResponse only;
    for (const auto& acl : resp.network_acls()) {
      if (acl.name() == name) *only.add_network_acls() = acl;
    }
    if (only.network_acls().empty()) {
      return c_.Fail(absl::NotFoundError(absl::StrCat(
          "get networkacl ", name, ": no such network ACL; gantryctl get networkacls lists them")));
    }
    resp = std::move(only);
  }
  if (!c_.table()) return c_.Print(resp);
  PrintNetworkAcls(c_.out(), {resp.network_acls().begin(), resp.network_acls().end()});
  return 0;
}

int Inspect::DescribeServiceIngress(const Service& service,
                                    const google::protobuf::RepeatedPtrField<Task>& tasks) {
  IngressView view;
  view.service = service;
  std::set<uint32_t> published;
  view.task_addresses[service.name()] = 0;
  for (const auto& t : tasks) {
    if (!t.address().empty()) ++view.task_addresses[service.name()];
    for (const auto& p : t.ports()) {
      if (p.host_port() != 0)
        published.insert(p.container_port() ? p.container_port() : p.host_port());
    }
  }
  view.published.assign(published.begin(), published.end());
  for (const auto& r : service.ingress()) {
    if (r.from_service().empty() || view.task_addresses.contains(r.from_service())) continue;
    ListTasksRequest req;
    req.set_service(r.from_service());
    ListTasksResponse resp;
    if (auto st = c_.ListTasks(req, &resp); !st.ok()) continue;  // count unknown
    int& n = view.task_addresses[r.from_service()];
    for (const auto& t : resp.tasks()) n += t.address().empty() ? 0 : 1;
  }
  ListNetworkAclsResponse acls;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListNetworkAcls(ctx.get(), {}, &acls); !st.ok()) {
    // The rest of the description stands; say what is missing and why.
    view.acls_error = st.error_message();
  }
  view.acls.assign(acls.network_acls().begin(), acls.network_acls().end());
  DescribeIngress(c_.out(), view);
  return 0;
}

int Inspect::GetControlPlanes(absl::Time now) {
  ListControlPlanesResponse resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListControlPlanes(ctx.get(), {}, &resp); !st.ok()) {
    return c_.Fail(st, "get controlplanes");
  }
  if (!c_.table()) return c_.Print(resp);
  PrintControlPlanes(c_.out(), {resp.replicas().begin(), resp.replicas().end()}, now);
  return 0;
}

int Inspect::GetServices(const std::string& name, absl::Time now) {
  if (!name.empty()) {
    GetServiceRequest req;
    req.set_name(name);
    Service resp;
    auto ctx = c_.Context();
    if (auto st = c_.api().GetService(ctx.get(), req, &resp); !st.ok()) return c_.Fail(st, "");
    if (!c_.table()) return c_.Print(resp);
    PrintServices(c_.out(), {resp}, now);
    return 0;
  }
  ListServicesResponse resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListServices(ctx.get(), {}, &resp); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) return c_.Print(resp);
  PrintServices(c_.out(), {resp.services().begin(), resp.services().end()}, now);
  return 0;
}

int Inspect::GetAutoscaling(const std::string& name, absl::Time now) {
  ListServicesResponse resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListServices(ctx.get(), {}, &resp); !st.ok()) return c_.Fail(st, "");
  std::vector<Service> scaled;
  for (const auto& s : resp.services()) {
    if (s.has_autoscaling() && (name.empty() || s.name() == name)) scaled.push_back(s);
  }
  if (!name.empty() && scaled.empty()) {
    c_.err() << "gantryctl: service " << name << " has no autoscaling (or does not exist)\n";
    return 1;
  }
  if (!c_.table()) {
    ListServicesResponse only;
    for (auto& s : scaled) *only.add_services() = std::move(s);
    return c_.Print(only);
  }
  PrintAutoscaling(c_.out(), scaled, now);
  return 0;
}

int Inspect::GetTasks(const std::string& name, const std::string& service, const std::string& node,
                      bool all, absl::Time now) {
  if (!name.empty()) {
    GetTaskRequest req;
    req.set_id(name);
    Task resp;
    auto ctx = c_.Context();
    if (auto st = c_.api().GetTask(ctx.get(), req, &resp); !st.ok()) return c_.Fail(st, "");
    if (!c_.table()) return c_.Print(resp);
    PrintTasks(c_.out(), {resp}, now);
    return 0;
  }
  ListTasksRequest req;
  req.set_service(service);
  req.set_node(node);
  req.set_include_stopped(all);
  ListTasksResponse resp;
  if (auto st = c_.ListTasks(req, &resp); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) return c_.Print(resp);
  PrintTasks(c_.out(), {resp.tasks().begin(), resp.tasks().end()}, now);
  return 0;
}

int Inspect::GetNodes(const std::string& name, absl::Time now) {
  if (!name.empty()) {
    GetNodeRequest req;
    req.set_name(name);
    Node resp;
    auto ctx = c_.Context();
    if (auto st = c_.api().GetNode(ctx.get(), req, &resp); !st.ok()) return c_.Fail(st, "");
    if (!c_.table()) return c_.Print(resp);
    PrintNodes(c_.out(), {resp}, now);
    return 0;
  }
  ListNodesResponse resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListNodes(ctx.get(), {}, &resp); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) return c_.Print(resp);
  PrintNodes(c_.out(), {resp.nodes().begin(), resp.nodes().end()}, now);
  return 0;
}

int Inspect::GetTaskDefinitions(const std::string& name, absl::Time now) {
  if (!name.empty() && name.find(':') != std::string::npos) {
    GetTaskDefinitionRequest req;
    req.set_reference(name);
    TaskDefinition resp;
    auto ctx = c_.Context();
    if (auto st = c_.api().GetTaskDefinition(ctx.get(), req, &resp); !st.ok()) {
      return c_.Fail(st, "");
    }
    if (!c_.table()) return c_.Print(resp);
    PrintTaskDefinitions(c_.out(), {resp}, now);
    return 0;
  }
  ListTaskDefinitionsRequest req;
  req.set_family(name);
  ListTaskDefinitionsResponse resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListTaskDefinitions(ctx.get(), req, &resp); !st.ok()) {
    return c_.Fail(st, "");
  }
  if (!c_.table()) return c_.Print(resp);
  PrintTaskDefinitions(c_.out(), {resp.task_definitions().begin(), resp.task_definitions().end()},
                       now);
  return 0;
}

int Inspect::GetImages(const std::string& node, absl::Time now) {
  ListImagesRequest req;
  req.set_node(node);
  ListImagesResponse resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ListImages(ctx.get(), req, &resp); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) return c_.Print(resp);
  PrintImages(c_.out(), {resp.images().begin(), resp.images().end()}, now);
  return 0;
}

int Inspect::DescribeService(const std::string& name, absl::Time now) {
  GetServiceRequest req;
  req.set_name(name);
  Service service;
  auto ctx = c_.Context();
  if (auto st = c_.api().GetService(ctx.get(), req, &service); !st.ok()) return c_.Fail(st, "");
  ListTasksRequest treq;
  treq.set_service(name);
  ListTasksResponse tasks;
  if (auto st = c_.ListTasks(treq, &tasks); !st.ok()) return c_.Fail(st, "");
  ListEventsRequest ereq;
  ereq.set_service(name);
  ereq.set_limit(20);
  ListEventsResponse events;
  auto ectx = c_.Context();
  if (auto st = c_.api().ListEvents(ectx.get(), ereq, &events); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) {
    gantry::v1::ServiceDescription d;
    *d.mutable_service() = service;
    *d.mutable_tasks() = tasks.tasks();
    *d.mutable_events() = events.events();
    return c_.Print(d);
  }
  ctl::DescribeService(c_.out(), service, {tasks.tasks().begin(), tasks.tasks().end()},
                       {events.events().begin(), events.events().end()}, now);
  return DescribeServiceIngress(service, tasks.tasks());
}

int Inspect::DescribeTask(const std::string& name, absl::Time now) {
  GetTaskRequest req;
  req.set_id(name);
  Task task;
  auto ctx = c_.Context();
  if (auto st = c_.api().GetTask(ctx.get(), req, &task); !st.ok()) return c_.Fail(st, "");
  ListEventsRequest ereq;
  ereq.set_service(task.service());
  ereq.set_limit(200);
  ListEventsResponse events;
  auto ectx = c_.Context();
  if (auto st = c_.api().ListEvents(ectx.get(), ereq, &events); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) {
    gantry::v1::TaskDescription d;
    *d.mutable_task() = task;
    for (const auto& e : events.events()) {
      if (e.task() == task.id()) *d.add_events() = e;
    }
    return c_.Print(d);
  }
  ctl::DescribeTask(c_.out(), task, {events.events().begin(), events.events().end()}, now);
  return 0;
}

int Inspect::DescribeNode(const std::string& name, absl::Time now) {
  GetNodeRequest req;
  req.set_name(name);
  Node node;
  auto ctx = c_.Context();
  if (auto st = c_.api().GetNode(ctx.get(), req, &node); !st.ok()) return c_.Fail(st, "");
  ListTasksRequest treq;
  treq.set_node(name);
  ListTasksResponse tasks;
  if (auto st = c_.ListTasks(treq, &tasks); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) {
    gantry::v1::NodeDescription d;
    *d.mutable_node() = node;
    *d.mutable_tasks() = tasks.tasks();
    return c_.Print(d);
  }
  ctl::DescribeNode(c_.out(), node, {tasks.tasks().begin(), tasks.tasks().end()}, now);
  return 0;
}

int Inspect::DescribeTaskDefinition(const std::string& name) {
  GetTaskDefinitionRequest req;
  req.set_reference(name);
  TaskDefinition td;
  auto ctx = c_.Context();
  if (auto st = c_.api().GetTaskDefinition(ctx.get(), req, &td); !st.ok()) return c_.Fail(st, "");
  if (!c_.table()) return c_.Print(td);
  ctl::DescribeTaskDefinition(c_.out(), td);
  return 0;
}

}  // namespace gantry::ctl
