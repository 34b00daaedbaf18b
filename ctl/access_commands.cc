#include "ctl/access_commands.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/endpoints.h"
#include "common/files.h"
#include "common/pki.h"
#include "common/quantity.h"
#include "common/time_util.h"
#include "ctl/client_config.h"
#include "ctl/output.h"

namespace gantry::ctl {

namespace {

absl::StatusOr<absl::Duration> Ttl(const std::string& text, const char* flag) {
  if (text.empty()) return absl::ZeroDuration();
  auto d = ParseDurationText(text);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", d.status().message()));
  return d;
}

// The CA PEM to trust, from a file or found through a pin.
absl::StatusOr<std::string> LoginCa(const LoginOptions& login) {
  if (!login.ca_file.empty()) return ReadFileForFlag(login.ca_file, "--ca");
  if (login.ca_hash.empty()) {
    return absl::InvalidArgumentError(
        "pass --ca FILE (the cluster CA, DATA_DIR/pki/ca.pem) or --ca-hash sha256:... (printed "
        "by the control plane at start and by gantryctl node join-token create)");
  }
  if (auto st = pki::ValidatePin(login.ca_hash); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--ca-hash: ", st.message()));
  }
  auto servers = Endpoints::Parse(login.server, "--server");
  if (!servers.ok()) return servers.status();
  auto chain = pki::FetchPeerChain(servers->Current(), absl::Seconds(10));
  if (!chain.ok()) return chain.status();
  return pki::PinnedCa(*chain, login.ca_hash, absl::Now());
}

}  // namespace

int Login(const GlobalOptions& global, const LoginOptions& login, std::ostream& out,
          std::ostream& err) {
  auto fail = [&](const absl::Status& st) {
    err << "gantryctl: login: " << st.message() << "\n";
    return 1;
  };
  if (login.server.empty()) return fail(absl::InvalidArgumentError("--server is required"));
  if (login.token_file.empty()) return fail(absl::InvalidArgumentError("--token-file is required"));
  auto ca = LoginCa(login);
  if (!ca.ok()) return fail(ca.status());
  auto token = ReadTokenFile(login.token_file, "--token-file");
  if (!token.ok()) return fail(token.status());
  ClientContext context{login.context, login.server, *ca, *std::move(token)};
  // Check before writing: a config that does not work helps nobody.
  const std::string path = global.config_path.empty() ? DefaultConfigPath() : global.config_path;
  auto config = LoadClientConfig(path);
  if (!config.ok()) return fail(config.status());
  ClientConfig trial;
  trial.Upsert(context);
  const std::string trial_path = path + ".login";
  if (auto st = SaveClientConfig(trial_path, trial); !st.ok()) return fail(st);
  GlobalOptions probe;
  probe.config_path = trial_path;
  probe.context = login.context;
  probe.timeout = global.timeout;
  auto c = Connection::Connect(probe, out, err);
  std::remove(trial_path.c_str());
  if (!c.ok()) return fail(c.status());
  auto ctx = (*c)->Context();
  gantry::v1::WhoAmIResponse who;
  grpc::Status status = (*c)->api().WhoAmI(ctx.get(), {}, &who);
  if (!status.ok()) return (*c)->Fail(status, "login");
  config->Upsert(context);
  if (auto st = SaveClientConfig(path, *config); !st.ok()) return fail(st);
  out << "logged in to cluster " << who.cluster_id() << " at " << login.server << " as "
      << who.identity() << "; context " << login.context << " in " << path << "\n";
  return 0;
}

int AccessCommands::SaveSnapshot(const std::string& path) {
  auto ctx = c_.Context();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  auto reader = c_.api().SaveSnapshot(ctx.get(), {});
  std::string bytes;
  gantry::v1::SnapshotChunk chunk;
  while (reader->Read(&chunk)) bytes += chunk.data();
  grpc::Status status = reader->Finish();
  if (!status.ok()) return c_.Fail(status, "snapshot save");
  gantry::v1::StoreSnapshot snapshot;
  if (!snapshot.ParseFromString(bytes)) {
    return c_.Fail(absl::DataLossError("snapshot save: the control plane sent a damaged snapshot"));
  }
  // It holds token and join token hashes: only root reads the file.
  if (auto st = WriteFileAtomically(path, bytes, 0600); !st.ok()) return c_.Fail(st);
  c_.out() << "saved " << snapshot.entries_size() << " keys of cluster " << snapshot.cluster_id()
           << " at store revision " << snapshot.revision() << " to " << path << " (" << bytes.size()
           << " bytes); restore with gantry-controlplane restore --from " << path << "\n";
  return 0;
}

int AccessCommands::WhoAmI() {
  auto ctx = c_.Context();
  gantry::v1::WhoAmIResponse who;
  grpc::Status status = c_.api().WhoAmI(ctx.get(), {}, &who);
  if (!status.ok()) return c_.Fail(status, "whoami");
  if (!c_.table()) return c_.Print(who);
  c_.out() << who.identity() << " in cluster " << who.cluster_id() << " at " << c_.server() << "\n";
  return 0;
}

int AccessCommands::CreateToken(const std::string& role, const std::string& services,
                                const std::string& ttl, const std::string& description) {
  auto d = Ttl(ttl, "--ttl");
  if (!d.ok()) return c_.Fail(d.status());
  gantry::v1::CreateTokenRequest req;
  req.set_role(role);
  req.set_services(services);
  *req.mutable_ttl() = ToProtoDuration(*d);
  req.set_description(description);
  gantry::v1::CreateTokenResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().CreateToken(ctx.get(), req, &resp);
  if (!status.ok()) return c_.Fail(status, "token create");
  if (!c_.table()) return c_.Print(resp);
  // The secret alone on stdout, so `$(gantryctl token create ...)` works.
  c_.out() << resp.token() << "\n";
  c_.err() << "token " << resp.info().accessor() << " (role " << resp.info().role()
           << "): the secret is shown only this once\n";
  return 0;
}

int AccessCommands::ListTokens() {
  gantry::v1::ListTokensResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().ListTokens(ctx.get(), {}, &resp);
  if (!status.ok()) return c_.Fail(status, "token list");
  if (!c_.table()) return c_.Print(resp);
  Table table({"ACCESSOR", "ROLE", "SERVICES", "DESCRIPTION", "CREATED", "EXPIRES", "LAST USED",
               "REVOKED"});
  for (const auto& t : resp.tokens()) {
    table.Add({t.accessor(), t.role(), t.services().empty() ? "-" : t.services(), t.description(),
               When(t.created_at()), When(t.expires_at()), When(t.last_used_at()),
               t.revoked() ? "yes" : "no"});
  }
  table.Print(c_.out());
  return 0;
}

int AccessCommands::RevokeToken(const std::string& accessor) {
  gantry::v1::RevokeTokenRequest req;
  req.set_accessor(accessor);
  gantry::v1::TokenInfo info;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().RevokeToken(ctx.get(), req, &info);
  if (!status.ok()) return c_.Fail(status, "token revoke");
  if (!c_.table()) return c_.Print(info);
  c_.out() << "token " << info.accessor() << " revoked\n";
  return 0;
}

int AccessCommands::ListRoles(const std::string& name) {
  gantry::v1::ListRolesResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().ListRoles(ctx.get(), {}, &resp);
  if (!status.ok()) return c_.Fail(status, "get roles");
  if (!name.empty()) {
    gantry::v1::ListRolesResponse only;
    for (const auto& r : resp.roles()) {
      if (r.name() == name) *only.add_roles() = r;
    }
    if (only.roles().empty()) {
      return c_.Fail(absl::NotFoundError(
          absl::StrCat("get role ", name, ": no such role; gantryctl get roles lists them")));
    }
    resp = std::move(only);
  }
  if (!c_.table()) return c_.Print(resp);
  PrintRoles(c_.out(), {resp.roles().begin(), resp.roles().end()});
  return 0;
}

int AccessCommands::DeleteRole(const std::string& name) {
  gantry::v1::DeleteRoleRequest req;
  req.set_name(name);
  gantry::v1::DeleteRoleResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().DeleteRole(ctx.get(), req, &resp);
  if (!status.ok()) return c_.Fail(status, absl::StrCat("delete role ", name));
  if (!c_.table()) return c_.Print(resp);
  c_.out() << "role " << name << " deleted\n";
  if (!resp.tokens().empty()) {
    // Still valid credentials that now do nothing: say which, and how to
    // clean up or undo.
    c_.err() << resp.tokens_size() << " token(s) with role " << name
             << " are now refused everything: " << absl::StrJoin(resp.tokens(), ", ")
             << " (revoke them with gantryctl token revoke ACCESSOR, or apply the role again)\n";
  }
  return 0;
}

int AccessCommands::CreateJoinToken(const std::string& node_name, const std::string& ttl) {
  auto d = Ttl(ttl, "--ttl");
  if (!d.ok()) return c_.Fail(d.status());
  gantry::v1::CreateJoinTokenRequest req;
  req.set_node_name(node_name);
  *req.mutable_ttl() = ToProtoDuration(*d);
  gantry::v1::CreateJoinTokenResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().CreateJoinToken(ctx.get(), req, &resp);
  if (!status.ok()) return c_.Fail(status, "node join-token create");
  if (!c_.table()) return c_.Print(resp);
  c_.out() << "join token: " << resp.token() << "\n"
           << "CA hash:    " << resp.ca_hash() << "\n"
           << "node:       " << (resp.node_name().empty() ? "any" : resp.node_name()) << "\n"
           << "expires:    " << When(resp.expires_at()) << " (used once)\n\n"
           << "Join a node with:\n  gantry-agent --controlplane " << c_.server()
           << " --join-token-file FILE --ca-hash " << resp.ca_hash()
           << (resp.node_name().empty() ? "" : " --node-name " + resp.node_name()) << " ...\n";
  return 0;
}

int AccessCommands::Audit(const std::string& since, const std::string& identity, int limit) {
  gantry::v1::ListAuditRecordsRequest req;
  if (!since.empty()) {
    auto d = ParseDurationText(since);
    if (!d.ok())
      return c_.Fail(absl::InvalidArgumentError("--since: " + std::string(d.status().message())));
    *req.mutable_since() = ToProtoTime(absl::Now() - *d);
  }
  if (limit < 1) return c_.Fail(absl::InvalidArgumentError("--limit: must be at least 1"));
  req.set_identity(identity);
  req.set_limit(limit);
  gantry::v1::ListAuditRecordsResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().ListAuditRecords(ctx.get(), req, &resp);
  if (!status.ok()) return c_.Fail(status, "audit");
  if (!c_.table()) return c_.Print(resp);
  Table table({"TIME", "IDENTITY", "PEER", "METHOD", "OBJECT", "OUTCOME"});
  for (const auto& r : resp.records()) {
    std::string who = r.identity_kind();
    if (!r.identity().empty()) absl::StrAppend(&who, " \"", r.identity(), "\"");
    if (!r.accessor().empty() && r.accessor() != r.identity()) {
      absl::StrAppend(&who, " (", r.accessor(), ")");
    }
    if (!r.role().empty()) absl::StrAppend(&who, " role ", r.role());
    std::string outcome = r.outcome();
    if (!r.message().empty()) absl::StrAppend(&outcome, ": ", r.message());
    // Names a caller chose (a node name it asked for) may hold anything.
    table.Add({When(r.time()), Printable(who), Printable(r.peer()), r.method(),
               Printable(r.object()), Printable(outcome)});
  }
  table.Print(c_.out());
  return 0;
}

}  // namespace gantry::ctl
