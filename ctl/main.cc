// gantryctl: argument parsing only; the commands live in commands.cc and
// inspect.cc. Each subcommand registers its options and what it runs.

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/quantity.h"
#include "common/signals.h"
#include "ctl/access_commands.h"
#include "ctl/commands.h"
#include "ctl/inspect.h"
#include "ctl/secret_commands.h"

namespace {

using gantry::ctl::AccessCommands;
using gantry::ctl::Commands;
using gantry::ctl::Connection;
using gantry::ctl::Inspect;
using gantry::ctl::SecretCommands;

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// What the parsed command line asks for; filled by CLI11.
struct Args {
  std::string file, kind, name, service, node, task, container;
  std::string role, services, ttl, description, accessor, since, identity;
  bool all = false, wait = false, follow = false, watch = false, raw = false;
  gantry::ctl::SecretValueSource secret;
  bool no_rollout = false, reveal = false;
  int64_t version = 0;
  int count = 0, limit = 50, audit_limit = 100;
  int64_t tail = 0;
  std::string timeout = "10m";
};

using Run = std::function<int(Connection&)>;
using Registry = std::vector<std::pair<CLI::App*, Run>>;

void AddGlobalOptions(CLI::App& app, gantry::ctl::GlobalOptions& g) {
  g.server = Env("GANTRY_SERVER", "");
  g.token = Env("GANTRY_TOKEN", "");
  g.tls.ca = Env("GANTRY_TLS_CA", "");
  g.tls.cert = Env("GANTRY_TLS_CERT", "");
  g.tls.key = Env("GANTRY_TLS_KEY", "");
  g.tls.server_name = Env("GANTRY_TLS_SERVER_NAME", "");
  app.add_option("--server", g.server,
                 "control plane HOST:PORT, or several replicas comma-separated (env "
                 "GANTRY_SERVER; default: the context's, or 127.0.0.1:7070)");
  app.add_option("--token", g.token, "operator token (env GANTRY_TOKEN; default: the context's)");
  app.add_option("--token-file", g.token_file, "file holding the operator token");
  app.add_option("--context", g.context, "client config context (default: the current one)");
  app.add_option("--config", g.config_path,
                 "client config file (env GANTRY_CONFIG; default ~/.config/gantry/config.yaml)");
  app.add_option("--tls-ca", g.tls.ca, "CA of the control plane's certificate (GANTRY_TLS_CA)");
  app.add_option("--tls-cert", g.tls.cert, "client certificate (GANTRY_TLS_CERT)");
  app.add_option("--tls-key", g.tls.key, "client key (GANTRY_TLS_KEY)");
  app.add_option("--tls-server-name", g.tls.server_name,
                 "name in the server certificate (GANTRY_TLS_SERVER_NAME)");
  app.add_option("-o,--output", g.output, "table, json or yaml");
}

void AddReads(CLI::App& app, Args& a, Registry& r) {
  auto* get = app.add_subcommand(
      "get",
      "list services, tasks, nodes, taskdefs, images, autoscaling, roles, networkacls or "
      "controlplanes");
  get->add_option("kind", a.kind,
                  "services|tasks|nodes|taskdefs|images|autoscaling|roles|networkacls|"
                  "controlplanes")
      ->required();
  get->add_option("name", a.name, "one object (a task id prefix is enough)");
  get->add_option("--service", a.service, "tasks of this service");
  get->add_option("--node", a.node, "tasks or images of this node");
  get->add_flag("-a,--all", a.all, "include stopped tasks");
  r.emplace_back(get, [&a](Connection& c) {
    return Inspect(c).Get(a.kind, a.name, a.service, a.node, a.all);
  });

  auto* describe = app.add_subcommand("describe", "show one object in detail");
  describe->add_option("kind", a.kind, "service|task|node|taskdef")->required();
  describe->add_option("name", a.name, "name, task id (prefix) or family:revision")->required();
  r.emplace_back(describe, [&a](Connection& c) { return Inspect(c).Describe(a.kind, a.name); });
}

void AddWrites(CLI::App& app, Args& a, Registry& r) {
  auto* apply = app.add_subcommand(
      "apply", "create or update task definitions, services, roles and network ACLs");
  apply->add_option("-f,--file", a.file, "YAML file ('-' for stdin)")->required();
  r.emplace_back(apply, [&a](Connection& c) { return Commands(c).Apply(a.file); });

  auto* scale = app.add_subcommand("scale", "change a service's desired count");
  scale->add_option("kind", a.kind, "service")->required();
  scale->add_option("name", a.name, "service name")->required();
  scale->add_option("--count", a.count, "desired number of tasks")->required();
  r.emplace_back(scale, [&a](Connection& c) { return Commands(c).Scale(a.kind, a.name, a.count); });

  auto* del = app.add_subcommand(
      "delete",
      "delete a service (its containers are removed), a DOWN node (retired), a custom role or a "
      "network ACL");
  del->add_option("kind", a.kind, "service|node|role|networkacl")->required();
  del->add_option("name", a.name, "service, node, role or network ACL name")->required();
  del->add_flag("--wait", a.wait, "wait until all its tasks have stopped");
  r.emplace_back(del, [&a](Connection& c) { return Commands(c).Delete(a.kind, a.name, a.wait); });

  auto* drain = app.add_subcommand("drain", "drain a node: no new tasks, its tasks move away");
  drain->add_option("kind", a.kind, "node")->required();
  drain->add_option("name", a.name, "node name")->required();
  r.emplace_back(drain,
                 [&a](Connection& c) { return Commands(c).SetNodeStatus(a.kind, a.name, true); });
  auto* activate = app.add_subcommand("activate", "let a drained node take tasks again");
  activate->add_option("kind", a.kind, "node")->required();
  activate->add_option("name", a.name, "node name")->required();
  r.emplace_back(activate,
                 [&a](Connection& c) { return Commands(c).SetNodeStatus(a.kind, a.name, false); });
}

void AddFollowers(CLI::App& app, Args& a, Registry& r) {
  auto* logs = app.add_subcommand("logs", "print a task's container output");
  logs->add_option("task", a.task, "task id (a unique prefix is enough)")->required();
  logs->add_option("-c,--container", a.container, "container (needed when there are several)");
  logs->add_flag("-f,--follow", a.follow, "keep printing new output");
  logs->add_option("--tail", a.tail, "only the last N lines");
  logs->add_flag("--raw", a.raw,
                 "print control characters as they are (on a terminal they are shown escaped)");
  r.emplace_back(logs, [&a](Connection& c) {
    const bool escape = !a.raw && isatty(STDOUT_FILENO) == 1;
    return Commands(c).Logs(a.task, a.container, a.follow, a.tail, escape);
  });

  auto* events = app.add_subcommand("events", "recent events");
  events->add_option("--service", a.service, "only this service");
  events->add_option("--limit", a.limit, "how many (newest)");
  events->add_flag("-w,--watch", a.watch, "keep printing new events");
  r.emplace_back(events,
                 [&a](Connection& c) { return Commands(c).Events(a.service, a.limit, a.watch); });
}

// Runs `run` with the --timeout the user gave, or says why it is not one.
int WithTimeout(const Args& a, Connection& c,
                const std::function<int(Commands&, absl::Duration)>& run) {
  auto timeout = gantry::ParseDurationText(a.timeout);
  if (!timeout.ok()) {
    c.err() << "gantryctl: --timeout: " << timeout.status().message() << "\n";
    return 1;
  }
  Commands commands(c);
  return run(commands, *timeout);
}

void AddRollouts(CLI::App& app, Args& a, Registry& r) {
  auto* rollout = app.add_subcommand("rollout", "follow or undo deployments");
  rollout->require_subcommand(1);
  auto* status = rollout->add_subcommand(
      "status", "wait for the newest deployment: exit 0 COMPLETED, 1 FAILED, 2 timeout");
  status->add_option("service", a.service, "service name")->required();
  status->add_option("--timeout", a.timeout, "give up after this long (default 10m)");
  r.emplace_back(status, [&a](Connection& c) {
    return WithTimeout(
        a, c, [&](Commands& cmd, absl::Duration t) { return cmd.RolloutStatus(a.service, "", t); });
  });
  auto* undo = rollout->add_subcommand("undo", "return to the previous COMPLETED deployment");
  undo->add_option("service", a.service, "service name")->required();
  r.emplace_back(undo, [&a](Connection& c) { return Commands(c).RolloutUndo(a.service); });

  auto* deploy = app.add_subcommand("deploy", "apply, and with --wait follow the rollouts");
  deploy->add_option("-f,--file", a.file, "YAML file ('-' for stdin)")->required();
  deploy->add_flag("--wait", a.wait, "wait for the deployments: exit 0, 1 (FAILED) or 2 (timeout)");
  deploy->add_option("--timeout", a.timeout, "give up waiting after this long (default 10m)");
  r.emplace_back(deploy, [&a](Connection& c) {
    return WithTimeout(
        a, c, [&](Commands& cmd, absl::Duration t) { return cmd.Deploy(a.file, a.wait, t); });
  });
}

void AddAccess(CLI::App& app, Args& a, Registry& r) {
  auto* whoami = app.add_subcommand("whoami", "who the control plane takes you for");
  r.emplace_back(whoami, [](Connection& c) { return AccessCommands(c).WhoAmI(); });

  auto* token = app.add_subcommand("token", "operator tokens");
  token->require_subcommand(1);
  auto* create = token->add_subcommand("create", "create a token; prints its secret once");
  create->add_option("--role", a.role, "admin, deployer, viewer, lb or a custom role (get roles)")
      ->required();
  create->add_option("--services", a.services, "services a deployer may change (glob, e.g. web*)");
  create->add_option("--ttl", a.ttl, "lifetime, e.g. 24h (default: never expires)");
  create->add_option("--description", a.description, "what the token is for (shown in lists)");
  r.emplace_back(create, [&a](Connection& c) {
    return AccessCommands(c).CreateToken(a.role, a.services, a.ttl, a.description);
  });
  auto* list = token->add_subcommand("list", "tokens, never their secrets");
  r.emplace_back(list, [](Connection& c) { return AccessCommands(c).ListTokens(); });
  auto* revoke = token->add_subcommand("revoke", "revoke a token");
  revoke->add_option("accessor", a.accessor, "the token's accessor (token list)")->required();
  r.emplace_back(revoke, [&a](Connection& c) { return AccessCommands(c).RevokeToken(a.accessor); });

  auto* audit = app.add_subcommand("audit", "the audit log: changes, log reads, joins, refusals");
  audit->add_option("--since", a.since,
                    "only records newer than this, e.g. 1h (default: all kept)");
  audit->add_option("--identity", a.identity, "only this token description, accessor or node");
  audit->add_option("--limit", a.audit_limit, "the newest N records")->capture_default_str();
  r.emplace_back(audit, [&a](Connection& c) {
    return AccessCommands(c).Audit(a.since, a.identity, a.audit_limit);
  });

  auto* snapshot = app.add_subcommand("snapshot", "backups of the whole store");
  snapshot->require_subcommand(1);
  auto* save = snapshot->add_subcommand("save", "save a consistent copy of the store (admin)");
  save->add_option("file", a.file, "where to write it (mode 0600)")->required();
  r.emplace_back(save, [&a](Connection& c) { return AccessCommands(c).SaveSnapshot(a.file); });

  auto* node = app.add_subcommand("node", "node joining");
  node->require_subcommand(1);
  auto* join = node->add_subcommand("join-token", "one-time tokens nodes join with");
  join->require_subcommand(1);
  auto* join_create = join->add_subcommand("create", "create a join token");
  join_create->add_option("--node-name", a.name, "only this node may join with it");
  join_create->add_option("--ttl", a.ttl, "how long it stays valid (default 15m)");
  r.emplace_back(join_create,
                 [&a](Connection& c) { return AccessCommands(c).CreateJoinToken(a.name, a.ttl); });
}

void AddSecrets(CLI::App& app, Args& a, Registry& r) {
  auto* secret = app.add_subcommand("secret", "secrets tasks get as variables or files");
  secret->require_subcommand(1);
  auto value_flags = [&a](CLI::App* cmd) {
    cmd->add_option("--from-file", a.secret.from_file, "read the value from FILE ('-': stdin)");
    cmd->add_option("--from-literal", a.secret.from_literal,
                    "the value itself (it stays in your shell history; prefer --from-file)")
        ->each([&a](const std::string&) { a.secret.literal_given = true; });
  };
  auto* create = secret->add_subcommand("create", "create a secret (version 1)");
  create->add_option("name", a.name, "secret name")->required();
  value_flags(create);
  r.emplace_back(create,
                 [&a](Connection& c) { return SecretCommands(c).Create(a.name, a.secret); });
  auto* update =
      secret->add_subcommand("update", "write a new version; the services that use it roll to it");
  update->add_option("name", a.name, "secret name")->required();
  value_flags(update);
  update->add_flag("--no-rollout", a.no_rollout, "leave the services on the version they have");
  r.emplace_back(update, [&a](Connection& c) {
    return SecretCommands(c).Update(a.name, a.secret, a.no_rollout);
  });
  auto* list = secret->add_subcommand("list", "secrets: names, versions, users; never values");
  r.emplace_back(list, [](Connection& c) { return SecretCommands(c).List(); });
  auto* describe = secret->add_subcommand("describe", "one secret's versions and users");
  describe->add_option("name", a.name, "secret name")->required();
  r.emplace_back(describe, [&a](Connection& c) { return SecretCommands(c).Describe(a.name); });
  auto* get = secret->add_subcommand("get", "metadata, or the value with --reveal (audited)");
  get->add_option("name", a.name, "secret name")->required();
  get->add_flag("--reveal", a.reveal, "print the value (admin, or a role granted read)");
  get->add_option("--version", a.version, "with --reveal: this version (default: current)");
  r.emplace_back(
      get, [&a](Connection& c) { return SecretCommands(c).Get(a.name, a.reveal, a.version); });
  auto* del = secret->add_subcommand("delete", "delete a secret no service uses");
  del->add_option("name", a.name, "secret name")->required();
  r.emplace_back(del, [&a](Connection& c) { return SecretCommands(c).Delete(a.name); });
  auto* rotate = secret->add_subcommand(
      "rotate-key", "re-wrap every secret with a new key-encryption key (admin)");
  r.emplace_back(rotate, [](Connection& c) { return SecretCommands(c).RotateKey(); });
}

CLI::App* AddLogin(CLI::App& app, gantry::ctl::LoginOptions& login) {
  auto* cmd = app.add_subcommand("login", "save a control plane, its CA and a token as a context");
  cmd->add_option("--server", login.server, "control plane HOST:PORT")->required();
  cmd->add_option("--ca", login.ca_file, "the cluster CA (DATA_DIR/pki/ca.pem)");
  cmd->add_option("--ca-hash", login.ca_hash, "or its pin, sha256:...");
  cmd->add_option("--token-file", login.token_file, "file holding the token")->required();
  cmd->add_option("--context", login.context, "context name")->capture_default_str();
  return cmd;
}

}  // namespace

int main(int argc, char** argv) {
  gantry::IgnoreSigpipe();
  CLI::App app{"gantryctl: operate a Gantry cluster"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  gantry::ctl::GlobalOptions global;
  Args args;
  Registry commands;
  AddGlobalOptions(app, global);
  AddWrites(app, args, commands);
  AddReads(app, args, commands);
  AddFollowers(app, args, commands);
  AddRollouts(app, args, commands);
  AddAccess(app, args, commands);
  AddSecrets(app, args, commands);
  gantry::ctl::LoginOptions login;
  CLI::App* login_command = AddLogin(app, login);
  CLI11_PARSE(app, argc, argv);
  if (login_command->parsed()) return gantry::ctl::Login(global, login, std::cout, std::cerr);

  auto connection = Connection::Connect(global, std::cout, std::cerr);
  if (!connection.ok()) {
    std::cerr << "gantryctl: " << connection.status().message() << "\n";
    return 1;
  }
  for (const auto& [command, run] : commands) {
    if (command->parsed()) return run(**connection);
  }
  return 1;
}
