#include "ctl/commands.h"

#include <unistd.h>

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/quantity.h"
#include "common/time_util.h"
#include "ctl/spec_parser.h"
#include "grpcpp/create_channel.h"

namespace gantry::ctl {

using namespace gantry::v1;  // NOLINT: this file speaks only the operator API

namespace {

// Accepts singular, plural and short names: "service", "services", "svc".
std::string Canonical(const std::string& kind) {
  if (kind == "service" || kind == "services" || kind == "svc") return "service";
  if (kind == "task" || kind == "tasks") return "task";
  if (kind == "node" || kind == "nodes") return "node";
  if (kind == "image" || kind == "images") return "image";
  if (kind == "autoscaling" || kind == "autoscalers" || kind == "as") return "autoscaling";
  if (kind == "taskdef" || kind == "taskdefs" || kind == "taskdefinition" ||
      kind == "taskdefinitions" || kind == "td") {
    return "taskdef";
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<Commands>> Commands::Connect(const GlobalOptions& options,
                                                            std::ostream& out, std::ostream& err) {
  auto format = ParseFormat(options.output);
  if (!format.ok()) return format.status();
  auto channel_options = MakeClientChannel(options.tls, options.server);
  if (!channel_options.ok()) return channel_options.status();
  std::unique_ptr<Commands> c(new Commands(options, *format, out, err));
  c->stub_ = OperatorService::NewStub(grpc::CreateCustomChannel(
      options.server, channel_options->credentials, channel_options->arguments));
  return c;
}

std::unique_ptr<grpc::ClientContext> Commands::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.timeout));
  return ctx;
}

int Commands::Fail(const grpc::Status& status, const std::string& what) const {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message =
        absl::StrCat("cannot reach the control plane at ", options_.server, " (",
                     status.error_message(), "); is it running? Set --server or GANTRY_SERVER");
  }
  err_ << "gantryctl: " << (what.empty() ? "" : what + ": ") << message << "\n";
  return 1;
}

int Commands::Fail(const absl::Status& status) const {
  err_ << "gantryctl: " << status.message() << "\n";
  return 1;
}

int Commands::Print(const google::protobuf::Message& message) const {
  out_ << (format_ == Format::kJson ? ToJson(message) : ToYaml(message));
  return 0;
}

int Commands::Apply(const std::string& file) {
  auto request = ParseSpecFile(file);
  if (!request.ok()) return Fail(request.status());
  ApplyResponse response;
  auto ctx = Context();
  grpc::Status st = stub_->Apply(ctx.get(), *request, &response);
  if (!st.ok()) return Fail(st, absl::StrCat("apply ", file));
  if (format_ != Format::kTable) return Print(response);
  for (const auto& r : response.results()) {
    out_ << (r.kind() == "Service" ? "service " : "taskdefinition ") << r.name() << " "
         << r.action() << "\n";
  }
  return 0;
}

int Commands::Get(const std::string& kind_in, const std::string& name, const std::string& service,
                  const std::string& node, bool all) {
  const std::string kind = Canonical(kind_in);
  const absl::Time now = absl::Now();
  if (kind == "service") {
    if (!name.empty()) {
      GetServiceRequest req;
      req.set_name(name);
      Service resp;
      auto ctx = Context();
      if (auto st = stub_->GetService(ctx.get(), req, &resp); !st.ok()) return Fail(st, "");
      if (format_ != Format::kTable) return Print(resp);
      PrintServices(out_, {resp}, now);
      return 0;
    }
    ListServicesResponse resp;
    auto ctx = Context();
    if (auto st = stub_->ListServices(ctx.get(), {}, &resp); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) return Print(resp);
    PrintServices(out_, {resp.services().begin(), resp.services().end()}, now);
    return 0;
  }
  if (kind == "autoscaling") {
    ListServicesResponse resp;
    auto ctx = Context();
    if (auto st = stub_->ListServices(ctx.get(), {}, &resp); !st.ok()) return Fail(st, "");
    std::vector<Service> scaled;
    for (const auto& s : resp.services()) {
      if (s.has_autoscaling() && (name.empty() || s.name() == name)) scaled.push_back(s);
    }
    if (!name.empty() && scaled.empty()) {
      err_ << "gantryctl: service " << name << " has no autoscaling (or does not exist)\n";
      return 1;
    }
    if (format_ != Format::kTable) {
      ListServicesResponse only;
      for (auto& s : scaled) *only.add_services() = std::move(s);
      return Print(only);
    }
    PrintAutoscaling(out_, scaled, now);
    return 0;
  }
  if (kind == "task") {
    if (!name.empty()) {
      GetTaskRequest req;
      req.set_id(name);
      Task resp;
      auto ctx = Context();
      if (auto st = stub_->GetTask(ctx.get(), req, &resp); !st.ok()) return Fail(st, "");
      if (format_ != Format::kTable) return Print(resp);
      PrintTasks(out_, {resp}, now);
      return 0;
    }
    ListTasksRequest req;
    req.set_service(service);
    req.set_node(node);
    req.set_include_stopped(all);
    ListTasksResponse resp;
    auto ctx = Context();
    if (auto st = stub_->ListTasks(ctx.get(), req, &resp); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) return Print(resp);
    PrintTasks(out_, {resp.tasks().begin(), resp.tasks().end()}, now);
    return 0;
  }
  if (kind == "node") {
    if (!name.empty()) {
      GetNodeRequest req;
      req.set_name(name);
      Node resp;
      auto ctx = Context();
      if (auto st = stub_->GetNode(ctx.get(), req, &resp); !st.ok()) return Fail(st, "");
      if (format_ != Format::kTable) return Print(resp);
      PrintNodes(out_, {resp}, now);
      return 0;
    }
    ListNodesResponse resp;
    auto ctx = Context();
    if (auto st = stub_->ListNodes(ctx.get(), {}, &resp); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) return Print(resp);
    PrintNodes(out_, {resp.nodes().begin(), resp.nodes().end()}, now);
    return 0;
  }
  if (kind == "taskdef") {
    if (!name.empty() && name.find(':') != std::string::npos) {
      GetTaskDefinitionRequest req;
      req.set_reference(name);
      TaskDefinition resp;
      auto ctx = Context();
      if (auto st = stub_->GetTaskDefinition(ctx.get(), req, &resp); !st.ok()) {
        return Fail(st, "");
      }
      if (format_ != Format::kTable) return Print(resp);
      PrintTaskDefinitions(out_, {resp}, now);
      return 0;
    }
    ListTaskDefinitionsRequest req;
    req.set_family(name);
    ListTaskDefinitionsResponse resp;
    auto ctx = Context();
    if (auto st = stub_->ListTaskDefinitions(ctx.get(), req, &resp); !st.ok()) {
      return Fail(st, "");
    }
    if (format_ != Format::kTable) return Print(resp);
    PrintTaskDefinitions(out_, {resp.task_definitions().begin(), resp.task_definitions().end()},
                         now);
    return 0;
  }
  if (kind == "image") {
    ListImagesRequest req;
    req.set_node(!node.empty() ? node : name);
    ListImagesResponse resp;
    auto ctx = Context();
    if (auto st = stub_->ListImages(ctx.get(), req, &resp); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) return Print(resp);
    PrintImages(out_, {resp.images().begin(), resp.images().end()}, now);
    return 0;
  }
  return Fail(absl::InvalidArgumentError(absl::StrCat(
      "get ", kind_in, ": unknown kind (use services, tasks, nodes, taskdefs or images)")));
}

int Commands::Describe(const std::string& kind_in, const std::string& name) {
  const std::string kind = Canonical(kind_in);
  const absl::Time now = absl::Now();
  if (kind == "service") {
    GetServiceRequest req;
    req.set_name(name);
    Service service;
    auto ctx = Context();
    if (auto st = stub_->GetService(ctx.get(), req, &service); !st.ok()) return Fail(st, "");
    ListTasksRequest treq;
    treq.set_service(name);
    ListTasksResponse tasks;
    auto tctx = Context();
    if (auto st = stub_->ListTasks(tctx.get(), treq, &tasks); !st.ok()) return Fail(st, "");
    ListEventsRequest ereq;
    ereq.set_service(name);
    ereq.set_limit(20);
    ListEventsResponse events;
    auto ectx = Context();
    if (auto st = stub_->ListEvents(ectx.get(), ereq, &events); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) {
      gantry::v1::ServiceDescription d;
      *d.mutable_service() = service;
      *d.mutable_tasks() = tasks.tasks();
      *d.mutable_events() = events.events();
      return Print(d);
    }
    DescribeService(out_, service, {tasks.tasks().begin(), tasks.tasks().end()},
                    {events.events().begin(), events.events().end()}, now);
    return 0;
  }
  if (kind == "task") {
    GetTaskRequest req;
    req.set_id(name);
    Task task;
    auto ctx = Context();
    if (auto st = stub_->GetTask(ctx.get(), req, &task); !st.ok()) return Fail(st, "");
    ListEventsRequest ereq;
    ereq.set_service(task.service());
    ereq.set_limit(200);
    ListEventsResponse events;
    auto ectx = Context();
    if (auto st = stub_->ListEvents(ectx.get(), ereq, &events); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) {
      gantry::v1::TaskDescription d;
      *d.mutable_task() = task;
      for (const auto& e : events.events()) {
        if (e.task() == task.id()) *d.add_events() = e;
      }
      return Print(d);
    }
    DescribeTask(out_, task, {events.events().begin(), events.events().end()}, now);
    return 0;
  }
  if (kind == "node") {
    GetNodeRequest req;
    req.set_name(name);
    Node node;
    auto ctx = Context();
    if (auto st = stub_->GetNode(ctx.get(), req, &node); !st.ok()) return Fail(st, "");
    ListTasksRequest treq;
    treq.set_node(name);
    ListTasksResponse tasks;
    auto tctx = Context();
    if (auto st = stub_->ListTasks(tctx.get(), treq, &tasks); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) {
      gantry::v1::NodeDescription d;
      *d.mutable_node() = node;
      *d.mutable_tasks() = tasks.tasks();
      return Print(d);
    }
    DescribeNode(out_, node, {tasks.tasks().begin(), tasks.tasks().end()}, now);
    return 0;
  }
  if (kind == "taskdef") {
    GetTaskDefinitionRequest req;
    req.set_reference(name);
    TaskDefinition td;
    auto ctx = Context();
    if (auto st = stub_->GetTaskDefinition(ctx.get(), req, &td); !st.ok()) return Fail(st, "");
    if (format_ != Format::kTable) return Print(td);
    DescribeTaskDefinition(out_, td);
    return 0;
  }
  return Fail(absl::InvalidArgumentError(
      absl::StrCat("describe ", kind_in, ": unknown kind (use service, task, node or taskdef)")));
}

int Commands::Scale(const std::string& kind, const std::string& name, int count) {
  if (Canonical(kind) != "service") {
    return Fail(
        absl::InvalidArgumentError(absl::StrCat("scale ", kind, ": only services can be scaled")));
  }
  ScaleServiceRequest req;
  req.set_name(name);
  req.set_desired_count(count);
  Service resp;
  auto ctx = Context();
  if (auto st = stub_->ScaleService(ctx.get(), req, &resp); !st.ok()) {
    return Fail(st, absl::StrCat("scale service ", name));
  }
  if (format_ != Format::kTable) return Print(resp);
  out_ << "service " << name << " scaled to " << resp.desired_count() << "\n";
  return 0;
}

int Commands::Delete(const std::string& kind, const std::string& name, bool wait) {
  if (Canonical(kind) == "node") {
    gantry::v1::DeleteNodeRequest req;
    req.set_name(name);
    gantry::v1::Node resp;
    auto ctx = Context();
    if (auto st = stub_->DeleteNode(ctx.get(), req, &resp); !st.ok()) {
      return Fail(st, absl::StrCat("delete node ", name));
    }
    out_ << "node " << name << " deleted\n";
    return 0;
  }
  if (Canonical(kind) != "service") {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("delete ", kind, ": services and nodes can be deleted")));
  }
  DeleteServiceRequest req;
  req.set_name(name);
  Service resp;
  auto ctx = Context();
  if (auto st = stub_->DeleteService(ctx.get(), req, &resp); !st.ok()) {
    return Fail(st, absl::StrCat("delete service ", name));
  }
  if (!wait) {
    out_ << "service " << name << " deleting (its tasks are stopping)\n";
    return 0;
  }
  // Wait until the control plane has removed the record, which it does once
  // every task has stopped and its containers are gone.
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    GetServiceRequest get;
    get.set_name(name);
    Service s;
    auto gctx = Context();
    grpc::Status st = stub_->GetService(gctx.get(), get, &s);
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
      out_ << "service " << name << " deleted\n";
      return 0;
    }
    if (!st.ok()) return Fail(st, absl::StrCat("delete service ", name));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return Fail(absl::DeadlineExceededError(
      absl::StrCat("delete service ", name,
                   ": tasks still stopping after 5m; check `gantryctl describe "
                   "service ",
                   name, "`")));
}

int Commands::SetNodeStatus(const std::string& kind, const std::string& name, bool drain) {
  if (Canonical(kind) != "node") {
    return Fail(absl::InvalidArgumentError(absl::StrCat(drain ? "drain " : "activate ", kind,
                                                        ": only nodes can be ",
                                                        drain ? "drained" : "activated")));
  }
  SetNodeStatusRequest req;
  req.set_name(name);
  req.set_status(drain ? Node::DRAINING : Node::ACTIVE);
  Node resp;
  auto ctx = Context();
  if (auto st = stub_->SetNodeStatus(ctx.get(), req, &resp); !st.ok()) {
    return Fail(st, absl::StrCat(drain ? "drain node " : "activate node ", name));
  }
  if (format_ != Format::kTable) return Print(resp);
  out_ << "node " << name << (drain ? " is DRAINING: its tasks move elsewhere\n" : " is ACTIVE\n");
  return 0;
}

int Commands::Logs(const std::string& task, const std::string& container, bool follow,
                   int64_t tail) {
  GetLogsRequest req;
  req.set_task_id(task);
  req.set_container(container);
  req.set_follow(follow);
  req.set_tail_lines(tail);
  grpc::ClientContext ctx;  // no deadline: following may last
  auto reader = stub_->GetLogs(&ctx, req);
  LogChunk chunk;
  while (reader->Read(&chunk)) {
    out_ << chunk.data();
    out_.flush();
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Fail(st, absl::StrCat("logs ", task));
  return 0;
}

int Commands::Events(const std::string& service, int limit, bool watch) {
  int64_t last = 0;
  for (bool first = true;; first = false) {
    ListEventsRequest req;
    req.set_service(service);
    req.set_limit(limit);
    // After the first page, everything newer than what was printed, however
    // many arrived in between.
    if (!first) req.set_after_id(last);
    ListEventsResponse resp;
    auto ctx = Context();
    if (auto st = stub_->ListEvents(ctx.get(), req, &resp); !st.ok()) return Fail(st, "");
    std::vector<Event> fresh;
    for (const auto& e : resp.events()) {
      if (e.id() > last) fresh.push_back(e);
    }
    if (!fresh.empty()) last = fresh.back().id();
    if (format_ != Format::kTable) {
      for (const auto& e : fresh) out_ << ToJson(e) << "\n";
    } else if (first) {
      PrintEvents(out_, fresh);
    } else {
      for (const auto& e : fresh) {
        out_ << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTime(e.time()), absl::UTCTimeZone())
             << "   " << e.message() << "\n";
      }
    }
    out_.flush();
    if (!watch) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

namespace {

std::string Progress(const Deployment& d) {
  const int width = 20;
  const int desired = std::max(1, d.desired_count());
  const int done = std::min(width, width * d.healthy_count() / desired);
  std::string bar = "[" + std::string(done, '#') + std::string(width - done, '-') + "]";
  std::string line = absl::StrCat(
      bar, " ", d.id(), " ", d.task_definition(), " healthy ", d.healthy_count(), "/",
      d.desired_count(), ", running ", d.running_count(), ", pending ", d.pending_count(),
      ", failed ", d.failed_count(), " ", Deployment::RolloutState_Name(d.rollout_state()));
  if (d.phase() != Deployment::PHASE_UNSPECIFIED && d.strategy() == "blueGreen") {
    absl::StrAppend(&line, " (", Deployment::Phase_Name(d.phase()), ", ", d.traffic_percent(),
                    "% of traffic)");
  } else if (d.phase() != Deployment::PHASE_UNSPECIFIED) {
    absl::StrAppend(&line, " (", Deployment::Phase_Name(d.phase()), ")");
  }
  return line;
}

}  // namespace

int Commands::RolloutStatus(const std::string& service, const std::string& deployment_in,
                            absl::Duration timeout) {
  const bool tty = isatty(STDOUT_FILENO) && &out_ == &std::cout;
  const absl::Time deadline = absl::Now() + timeout;
  std::string deployment = deployment_in;
  std::string last_line;
  for (;;) {
    GetServiceRequest req;
    req.set_name(service);
    Service s;
    auto ctx = Context();
    if (auto st = stub_->GetService(ctx.get(), req, &s); !st.ok()) {
      return Fail(st, absl::StrCat("rollout status ", service));
    }
    if (s.deployments().empty()) {
      return Fail(absl::FailedPreconditionError(
          absl::StrCat("service ", service, " has no deployment yet")));
    }
    if (deployment.empty()) deployment = s.deployments(0).id();
    const Deployment* d = nullptr;
    const Deployment* rollback = nullptr;
    for (const auto& x : s.deployments()) {
      if (x.id() == deployment) d = &x;
      if (x.rollback_of() == deployment) rollback = &x;
    }
    if (d == nullptr) {
      return Fail(absl::NotFoundError(
          absl::StrCat("service ", service, " has no deployment ", deployment)));
    }
    const std::string line = Progress(*d);
    if (line != last_line) {
      if (tty) {
        out_ << "\r\033[K" << line;
      } else {
        out_ << line << "\n";
      }
      out_.flush();
      last_line = line;
    }
    auto finish = [&](int code, const std::string& message) {
      if (tty) out_ << "\n";
      out_ << message << "\n";
      return code;
    };
    if (d->rollout_state() == Deployment::COMPLETED) {
      return finish(0, absl::StrCat("deployment ", d->id(), " of ", service, " COMPLETED"));
    }
    if (d->rollout_state() == Deployment::FAILED || rollback != nullptr) {
      std::string message = absl::StrCat("deployment ", d->id(), " of ", service, " FAILED");
      if (!d->rollout_state_reason().empty())
        absl::StrAppend(&message, ": ", d->rollout_state_reason());
      if (rollback != nullptr) absl::StrAppend(&message, " (rolled back by ", rollback->id(), ")");
      return finish(1, message);
    }
    if (absl::Now() >= deadline) {
      return finish(2, absl::StrCat("gantryctl: rollout status ", service, ": deployment ", d->id(),
                                    " still ", Deployment::RolloutState_Name(d->rollout_state()),
                                    " after ", absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int Commands::RolloutUndo(const std::string& service) {
  UndoRolloutRequest req;
  req.set_service(service);
  Service resp;
  auto ctx = Context();
  if (auto st = stub_->UndoRollout(ctx.get(), req, &resp); !st.ok()) {
    return Fail(st, absl::StrCat("rollout undo ", service));
  }
  if (format_ != Format::kTable) return Print(resp);
  out_ << "service " << service << " rolls back to " << resp.resolved_task_definition()
       << (resp.deployments().empty()
               ? ""
               : absl::StrCat(" (deployment ", resp.deployments(0).id(), ")"))
       << "\n";
  return 0;
}

int Commands::Deploy(const std::string& file, bool wait, absl::Duration timeout) {
  auto request = ParseSpecFile(file);
  if (!request.ok()) return Fail(request.status());
  ApplyResponse response;
  auto ctx = Context();
  grpc::Status st = stub_->Apply(ctx.get(), *request, &response);
  if (!st.ok()) return Fail(st, absl::StrCat("deploy ", file));
  for (const auto& r : response.results()) {
    out_ << (r.kind() == "Service" ? "service " : "taskdefinition ") << r.name() << " "
         << r.action() << (r.deployment().empty() ? "" : " (deployment " + r.deployment() + ")")
         << "\n";
  }
  if (!wait) return 0;
  // One timeout for the whole file, not one per service.
  const absl::Time deadline = absl::Now() + timeout;
  int worst = 0;
  for (const auto& r : response.results()) {
    if (r.kind() != "Service") continue;
    worst = std::max(worst, RolloutStatus(r.name(), r.deployment(),
                                          std::max(absl::ZeroDuration(), deadline - absl::Now())));
  }
  return worst;
}

}  // namespace gantry::ctl
