#include "ctl/commands.h"

#include <unistd.h>

#include <iostream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/quantity.h"
#include "common/time_util.h"
#include "ctl/access_commands.h"
#include "ctl/spec_parser.h"
#include "ctl/terminal_text.h"

namespace gantry::ctl {

using namespace gantry::v1;  // NOLINT: this file speaks only the operator API

int Commands::Apply(const std::string& file) {
  auto request = ParseSpecFile(file);
  if (!request.ok()) return c_.Fail(request.status());
  ApplyResponse response;
  auto ctx = c_.Context();
  grpc::Status st = c_.api().Apply(ctx.get(), *request, &response);
  if (!st.ok()) return c_.Fail(st, absl::StrCat("apply ", file));
  for (const auto& w : response.warnings()) c_.err() << "gantryctl: warning: " << w << "\n";
  if (!c_.table()) return c_.Print(response);
  for (const auto& r : response.results()) {
    c_.out() << absl::AsciiStrToLower(r.kind()) << " " << r.name() << " " << r.action() << "\n";
  }
  return 0;
}

int Commands::Scale(const std::string& kind, const std::string& name, int count) {
  if (CanonicalKind(kind) != "service") {
    return c_.Fail(
        absl::InvalidArgumentError(absl::StrCat("scale ", kind, ": only services can be scaled")));
  }
  ScaleServiceRequest req;
  req.set_name(name);
  req.set_desired_count(count);
  Service resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().ScaleService(ctx.get(), req, &resp); !st.ok()) {
    return c_.Fail(st, absl::StrCat("scale service ", name));
  }
  if (!c_.table()) return c_.Print(resp);
  c_.out() << "service " << name << " scaled to " << resp.desired_count() << "\n";
  return 0;
}

int Commands::Delete(const std::string& kind, const std::string& name, bool wait) {
  if (CanonicalKind(kind) == "node") {
    gantry::v1::DeleteNodeRequest req;
    req.set_name(name);
    gantry::v1::Node resp;
    auto ctx = c_.Context();
    if (auto st = c_.api().DeleteNode(ctx.get(), req, &resp); !st.ok()) {
      return c_.Fail(st, absl::StrCat("delete node ", name));
    }
    c_.out() << "node " << name << " deleted\n";
    return 0;
  }
  if (CanonicalKind(kind) == "role") return AccessCommands(c_).DeleteRole(name);
  if (CanonicalKind(kind) == "networkacl") {
    gantry::v1::DeleteNetworkAclRequest req;
    req.set_name(name);
    gantry::v1::NetworkAcl resp;
    auto ctx = c_.Context();
    if (auto st = c_.api().DeleteNetworkAcl(ctx.get(), req, &resp); !st.ok()) {
      return c_.Fail(st, absl::StrCat("delete networkacl ", name));
    }
    c_.out() << "network ACL " << name << " deleted\n";
    return 0;
  }
  if (CanonicalKind(kind) != "service") {
    return c_.Fail(absl::InvalidArgumentError(
        absl::StrCat("delete ", kind, ": services, nodes, roles and networkacls can be deleted")));
  }
  DeleteServiceRequest req;
  req.set_name(name);
  Service resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().DeleteService(ctx.get(), req, &resp); !st.ok()) {
    return c_.Fail(st, absl::StrCat("delete service ", name));
  }
  if (!wait) {
    c_.out() << "service " << name << " deleting (its tasks are stopping)\n";
    return 0;
  }
  // Wait until the control plane has removed the record, which it does once
  // every task has stopped and its containers are gone.
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    GetServiceRequest get;
    get.set_name(name);
    Service s;
    auto gctx = c_.Context();
    grpc::Status st = c_.api().GetService(gctx.get(), get, &s);
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
      c_.out() << "service " << name << " deleted\n";
      return 0;
    }
    if (!st.ok()) return c_.Fail(st, absl::StrCat("delete service ", name));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return c_.Fail(absl::DeadlineExceededError(
      absl::StrCat("delete service ", name,
                   ": tasks still stopping after 5m; check `gantryctl describe "
                   "service ",
                   name, "`")));
}

int Commands::SetNodeStatus(const std::string& kind, const std::string& name, bool drain) {
  if (CanonicalKind(kind) != "node") {
    return c_.Fail(absl::InvalidArgumentError(absl::StrCat(drain ? "drain " : "activate ", kind,
                                                           ": only nodes can be ",
                                                           drain ? "drained" : "activated")));
  }
  SetNodeStatusRequest req;
  req.set_name(name);
  req.set_status(drain ? Node::DRAINING : Node::ACTIVE);
  Node resp;
  auto ctx = c_.Context();
  if (auto st = c_.api().SetNodeStatus(ctx.get(), req, &resp); !st.ok()) {
    return c_.Fail(st, absl::StrCat(drain ? "drain node " : "activate node ", name));
  }
  if (!c_.table()) return c_.Print(resp);
  c_.out() << "node " << name
           << (drain ? " is DRAINING: its tasks move elsewhere\n" : " is ACTIVE\n");
  return 0;
}

int Commands::Logs(const std::string& task, const std::string& container, bool follow, int64_t tail,
                   bool escape) {
  GetLogsRequest req;
  req.set_task_id(task);
  req.set_container(container);
  req.set_follow(follow);
  req.set_tail_lines(tail);
  grpc::ClientContext ctx;  // no deadline: following may last
  auto reader = c_.api().GetLogs(&ctx, req);
  LogChunk chunk;
  TerminalText text(/*keep_lines=*/true);
  while (reader->Read(&chunk)) {
    c_.out() << (escape ? text.Feed(chunk.data()) : chunk.data());
    c_.out().flush();
    // The reader went away (`gantryctl logs -f | head`): stop following.
    if (!c_.out()) {
      ctx.TryCancel();
      (void)reader->Finish();
      return 0;
    }
  }
  if (escape) c_.out() << text.Flush();
  grpc::Status st = reader->Finish();
  if (!st.ok()) return c_.Fail(st, absl::StrCat("logs ", task));
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
    auto ctx = c_.Context();
    if (auto st = c_.api().ListEvents(ctx.get(), req, &resp); !st.ok()) return c_.Fail(st, "");
    std::vector<Event> fresh;
    for (const auto& e : resp.events()) {
      if (e.id() > last) fresh.push_back(e);
    }
    if (!fresh.empty()) last = fresh.back().id();
    if (!c_.table()) {
      for (const auto& e : fresh) c_.out() << ToJson(e) << "\n";
    } else if (first) {
      PrintEvents(c_.out(), fresh);
    } else {
      for (const auto& e : fresh) {
        c_.out() << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTime(e.time()),
                                     absl::UTCTimeZone())
                 << "   " << EscapeControls(e.message()) << "\n";
      }
    }
    c_.out().flush();
    // Done, or the reader went away (`gantryctl events -w | head`).
    if (!watch || !c_.out()) return 0;
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

int Commands::WorstRollout(int a, int b) {
  auto rank = [](int code) {
    switch (code) {
      case kRolloutFailed:
        return 4;
      case kRolloutUnknown:
        return 3;
      case kRolloutTimedOut:
        return 2;
      case kRolloutSuperseded:
        return 1;
      default:
        return 0;
    }
  };
  return rank(a) >= rank(b) ? a : b;
}

int Commands::RolloutStatus(const std::string& service, const std::string& deployment_in,
                            absl::Duration timeout) {
  const bool tty = isatty(STDOUT_FILENO) && &c_.out() == &std::cout;
  const absl::Time deadline = absl::Now() + timeout;
  std::string deployment = deployment_in;
  std::string last_line;
  auto finish = [&](int code, const std::string& message) {
    if (tty && !last_line.empty()) c_.out() << "\n";
    (code == kRolloutUnknown ? c_.err() : c_.out()) << message << "\n";
    return code;
  };
  for (;;) {
    GetServiceRequest req;
    req.set_name(service);
    Service s;
    auto ctx = c_.Context();
    if (auto st = c_.api().GetService(ctx.get(), req, &s); !st.ok()) {
      // A control plane that is restarting or failing over answers again
      // soon: ask until the deadline. Anything else cannot be waited out.
      const bool transient = st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      if (transient && absl::Now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      return finish(kRolloutUnknown, absl::StrCat("gantryctl: rollout status ", service,
                                                  ": cannot tell how the deployment went: ",
                                                  EscapeControls(st.error_message())));
    }
    if (s.deployments().empty()) {
      return finish(kRolloutUnknown, absl::StrCat("gantryctl: rollout status ", service,
                                                  ": service ", service, " has no deployment yet"));
    }
    if (deployment.empty()) deployment = s.deployments(0).id();
    const Deployment* d = nullptr;
    const Deployment* rollback = nullptr;
    for (const auto& x : s.deployments()) {
      if (x.id() == deployment) d = &x;
      if (x.rollback_of() == deployment) rollback = &x;
    }
    if (d == nullptr) {
      return finish(kRolloutUnknown,
                    absl::StrCat("gantryctl: rollout status ", service, ": service ", service,
                                 " has no deployment ", deployment, " (any more)"));
    }
    const std::string line = Progress(*d);
    if (line != last_line) {
      if (tty) {
        c_.out() << "\r\033[K" << line;
      } else {
        c_.out() << line << "\n";
      }
      c_.out().flush();
      last_line = line;
    }
    if (d->rollout_state() == Deployment::COMPLETED) {
      return finish(kRolloutCompleted,
                    absl::StrCat("deployment ", d->id(), " of ", service, " COMPLETED"));
    }
    if (d->rollout_state() == Deployment::FAILED || rollback != nullptr) {
      std::string message = absl::StrCat("deployment ", d->id(), " of ", service, " FAILED");
      if (!d->rollout_state_reason().empty())
        absl::StrAppend(&message, ": ", EscapeControls(d->rollout_state_reason()));
      if (rollback != nullptr) absl::StrAppend(&message, " (rolled back by ", rollback->id(), ")");
      return finish(kRolloutFailed, message);
    }
    // A newer deployment took over before this one finished: it will not.
    if (d->status() != Deployment::PRIMARY && s.deployments(0).id() != d->id()) {
      return finish(kRolloutSuperseded,
                    absl::StrCat("deployment ", d->id(), " of ", service,
                                 " was superseded by deployment ", s.deployments(0).id(), " (",
                                 s.deployments(0).task_definition(), ") before it completed"));
    }
    if (absl::Now() >= deadline) {
      return finish(kRolloutTimedOut,
                    absl::StrCat("gantryctl: rollout status ", service, ": deployment ", d->id(),
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
  auto ctx = c_.Context();
  if (auto st = c_.api().UndoRollout(ctx.get(), req, &resp); !st.ok()) {
    return c_.Fail(st, absl::StrCat("rollout undo ", service));
  }
  if (!c_.table()) return c_.Print(resp);
  c_.out() << "service " << service << " rolls back to " << resp.resolved_task_definition()
           << (resp.deployments().empty()
                   ? ""
                   : absl::StrCat(" (deployment ", resp.deployments(0).id(), ")"))
           << "\n";
  return 0;
}

int Commands::Deploy(const std::string& file, bool wait, absl::Duration timeout) {
  auto request = ParseSpecFile(file);
  if (!request.ok()) return c_.Fail(request.status());
  ApplyResponse response;
  auto ctx = c_.Context();
  grpc::Status st = c_.api().Apply(ctx.get(), *request, &response);
  if (!st.ok()) return c_.Fail(st, absl::StrCat("deploy ", file));
  for (const auto& w : response.warnings()) c_.err() << "gantryctl: warning: " << w << "\n";
  for (const auto& r : response.results()) {
    c_.out() << (r.kind() == "Service" ? "service " : "taskdefinition ") << r.name() << " "
             << r.action() << (r.deployment().empty() ? "" : " (deployment " + r.deployment() + ")")
             << "\n";
  }
  if (!wait) return 0;
  // One timeout for the whole file, not one per service.
  const absl::Time deadline = absl::Now() + timeout;
  // Every service is looked at (once at least, after a timeout), so a
  // timeout in one does not hide a failure in another.
  int worst = kRolloutCompleted;
  for (const auto& r : response.results()) {
    if (r.kind() != "Service") continue;
    worst =
        WorstRollout(worst, RolloutStatus(r.name(), r.deployment(),
                                          std::max(absl::ZeroDuration(), deadline - absl::Now())));
  }
  return worst;
}

}  // namespace gantry::ctl
