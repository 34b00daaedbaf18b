// gantryctl: argument parsing only; the commands live in commands.cc.

#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/quantity.h"
#include "common/signals.h"
#include "ctl/commands.h"

namespace {

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  gantry::IgnoreSigpipe();
  CLI::App app{"gantryctl: operate a Gantry cluster"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  gantry::ctl::GlobalOptions g;
  g.server = Env("GANTRY_SERVER", "127.0.0.1:7070");
  g.tls.ca = Env("GANTRY_TLS_CA", "");
  g.tls.cert = Env("GANTRY_TLS_CERT", "");
  g.tls.key = Env("GANTRY_TLS_KEY", "");
  g.tls.server_name = Env("GANTRY_TLS_SERVER_NAME", "");
  app.add_option("--server", g.server, "control plane HOST:PORT (env GANTRY_SERVER)");
  app.add_option("--tls-ca", g.tls.ca, "CA of the control plane's certificate (GANTRY_TLS_CA)");
  app.add_option("--tls-cert", g.tls.cert, "client certificate (GANTRY_TLS_CERT)");
  app.add_option("--tls-key", g.tls.key, "client key (GANTRY_TLS_KEY)");
  app.add_option("--tls-server-name", g.tls.server_name,
                 "name in the server certificate (GANTRY_TLS_SERVER_NAME)");
  app.add_option("-o,--output", g.output, "table, json or yaml");

  std::string file;
  auto* apply = app.add_subcommand("apply", "create or update task definitions and services");
  apply->add_option("-f,--file", file, "YAML file ('-' for stdin)")->required();

  std::string kind;
  std::string name;
  std::string service;
  std::string node;
  bool all = false;
  auto* get =
      app.add_subcommand("get", "list services, tasks, nodes, taskdefs, images or autoscaling");
  get->add_option("kind", kind, "services|tasks|nodes|taskdefs|images|autoscaling")->required();
  get->add_option("name", name, "one object (a task id prefix is enough)");
  get->add_option("--service", service, "tasks of this service");
  get->add_option("--node", node, "tasks or images of this node");
  get->add_flag("-a,--all", all, "include stopped tasks");

  auto* describe = app.add_subcommand("describe", "show one object in detail");
  describe->add_option("kind", kind, "service|task|node|taskdef")->required();
  describe->add_option("name", name, "name, task id (prefix) or family:revision")->required();

  int count = 0;
  auto* scale = app.add_subcommand("scale", "change a service's desired count");
  scale->add_option("kind", kind, "service")->required();
  scale->add_option("name", name, "service name")->required();
  scale->add_option("--count", count, "desired number of tasks")->required();

  bool wait = false;
  auto* del = app.add_subcommand(
      "delete", "delete a service (its containers are removed) or a DOWN node (retired)");
  del->add_option("kind", kind, "service|node")->required();
  del->add_option("name", name, "service or node name")->required();
  del->add_flag("--wait", wait, "wait until all its tasks have stopped");

  auto* drain = app.add_subcommand("drain", "drain a node: no new tasks, its tasks move away");
  drain->add_option("kind", kind, "node")->required();
  drain->add_option("name", name, "node name")->required();
  auto* activate = app.add_subcommand("activate", "let a drained node take tasks again");
  activate->add_option("kind", kind, "node")->required();
  activate->add_option("name", name, "node name")->required();

  std::string task;
  std::string container;
  bool follow = false;
  int64_t tail = 0;
  auto* logs = app.add_subcommand("logs", "print a task's container output");
  logs->add_option("task", task, "task id (a unique prefix is enough)")->required();
  logs->add_option("-c,--container", container, "container (needed when there are several)");
  logs->add_flag("-f,--follow", follow, "keep printing new output");
  logs->add_option("--tail", tail, "only the last N lines");

  int limit = 50;
  bool watch = false;
  auto* events = app.add_subcommand("events", "recent events");
  events->add_option("--service", service, "only this service");
  events->add_option("--limit", limit, "how many (newest)");
  events->add_flag("-w,--watch", watch, "keep printing new events");

  std::string timeout_text = "10m";
  auto* rollout = app.add_subcommand("rollout", "follow or undo deployments");
  rollout->require_subcommand(1);
  auto* status = rollout->add_subcommand(
      "status", "wait for the newest deployment: exit 0 COMPLETED, 1 FAILED, 2 timeout");
  status->add_option("service", service, "service name")->required();
  status->add_option("--timeout", timeout_text, "give up after this long (default 10m)");
  auto* undo = rollout->add_subcommand("undo", "return to the previous COMPLETED deployment");
  undo->add_option("service", service, "service name")->required();

  auto* deploy = app.add_subcommand("deploy", "apply, and with --wait follow the rollouts");
  deploy->add_option("-f,--file", file, "YAML file ('-' for stdin)")->required();
  deploy->add_flag("--wait", wait, "wait for the deployments: exit 0, 1 (FAILED) or 2 (timeout)");
  deploy->add_option("--timeout", timeout_text, "give up waiting after this long (default 10m)");

  CLI11_PARSE(app, argc, argv);

  auto commands = gantry::ctl::Commands::Connect(g, std::cout, std::cerr);
  if (!commands.ok()) {
    std::cerr << "gantryctl: " << commands.status().message() << "\n";
    return 1;
  }
  auto& c = **commands;
  if (apply->parsed()) return c.Apply(file);
  if (get->parsed()) return c.Get(kind, name, service, node, all);
  if (describe->parsed()) return c.Describe(kind, name);
  if (scale->parsed()) return c.Scale(kind, name, count);
  if (del->parsed()) return c.Delete(kind, name, wait);
  if (drain->parsed()) return c.SetNodeStatus(kind, name, true);
  if (activate->parsed()) return c.SetNodeStatus(kind, name, false);
  if (logs->parsed()) return c.Logs(task, container, follow, tail);
  if (events->parsed()) return c.Events(service, limit, watch);
  auto timeout = gantry::ParseDurationText(timeout_text);
  if (!timeout.ok()) {
    std::cerr << "gantryctl: --timeout: " << timeout.status().message() << "\n";
    return 1;
  }
  if (status->parsed()) return c.RolloutStatus(service, "", *timeout);
  if (undo->parsed()) return c.RolloutUndo(service);
  if (deploy->parsed()) return c.Deploy(file, wait, *timeout);
  return 1;
}
