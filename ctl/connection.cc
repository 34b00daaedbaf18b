#include "ctl/connection.h"

#include "absl/strings/str_cat.h"
#include "common/endpoints.h"
#include "ctl/client_config.h"
#include "ctl/terminal_text.h"
#include "grpcpp/create_channel.h"

namespace gantry::ctl {

std::string CanonicalKind(const std::string& kind) {
  if (kind == "service" || kind == "services" || kind == "svc") return "service";
  if (kind == "task" || kind == "tasks") return "task";
  if (kind == "node" || kind == "nodes") return "node";
  if (kind == "image" || kind == "images") return "image";
  if (kind == "role" || kind == "roles") return "role";
  if (kind == "networkacl" || kind == "networkacls" || kind == "nacl" || kind == "nacls") {
    return "networkacl";
  }
  if (kind == "controlplane" || kind == "controlplanes" || kind == "cp") return "controlplane";
  if (kind == "autoscaling" || kind == "autoscalers" || kind == "as") return "autoscaling";
  if (kind == "taskdef" || kind == "taskdefs" || kind == "taskdefinition" ||
      kind == "taskdefinitions" || kind == "td") {
    return "taskdef";
  }
  return "";
}

namespace {

// True once the channel is connected; false when it fails or `timeout`
// passes first.
bool Connects(grpc::Channel& channel, absl::Duration timeout) {
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
  for (;;) {
    const grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return true;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!channel.WaitForStateChange(state, deadline)) return false;
  }
}

}  // namespace

absl::StatusOr<std::pair<ClientTls, std::string>> Connection::Resolve(GlobalOptions& o) {
  auto config = LoadClientConfig(o.config_path.empty() ? DefaultConfigPath() : o.config_path);
  if (!config.ok()) return config.status();
  const ClientContext* context = config->Find(o.context);
  if (!o.context.empty() && context == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--context ", o.context,
                     ": no such context in the client config; log in with gantryctl "
                     "login --context ",
                     o.context));
  }
  if (o.server.empty()) o.server = context != nullptr ? context->server : "127.0.0.1:7070";
  std::string token = o.token;
  if (!o.token_file.empty()) {
    auto text = ReadTokenFile(o.token_file, "--token-file");
    if (!text.ok()) return text.status();
    token = *std::move(text);
  }
  if (token.empty() && context != nullptr && o.tls.cert.empty()) token = context->token;
  ClientTls tls;
  if (o.tls.ca.empty() && context != nullptr && !context->ca_pem.empty()) {
    tls.ca_pem = context->ca_pem;
    tls.server_name = o.tls.server_name;
    if (absl::Status s = LoadClientCertificate(o.tls, tls); !s.ok()) return s;
  } else {
    auto loaded = LoadClientTls(o.tls);
    if (!loaded.ok()) return loaded.status();
    tls = *std::move(loaded);
  }
  return std::make_pair(std::move(tls), std::move(token));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(const GlobalOptions& options,
                                                                std::ostream& out,
                                                                std::ostream& err) {
  auto format = ParseFormat(options.output);
  if (!format.ok()) return format.status();
  GlobalOptions resolved = options;
  auto tls = Resolve(resolved);
  if (!tls.ok()) return tls.status();
  const ClientChannel channel = MakeClientChannel(tls->first, tls->second);
  auto endpoints = Endpoints::Parse(resolved.server, "--server");
  if (!endpoints.ok()) return endpoints.status();
  // Any replica answers operators: take the first that accepts a
  // connection. A refused connection moves on at once, one that hangs
  // after a second.
  std::shared_ptr<grpc::Channel> chosen;
  for (const auto& server : endpoints->All()) {
    auto ch = grpc::CreateCustomChannel(server, channel.credentials, channel.arguments);
    if (endpoints->size() == 1 || Connects(*ch, absl::Seconds(1))) {
      chosen = std::move(ch);
      resolved.server = server;
      break;
    }
  }
  if (chosen == nullptr) {
    resolved.server = endpoints->Current();
    chosen = grpc::CreateCustomChannel(resolved.server, channel.credentials, channel.arguments);
  }
  auto stub = gantry::v1::OperatorService::NewStub(chosen);
  // Any replica takes writes, but what comes over the agents' streams (node
  // connections, logs) lives on the leader: talk to it when it can be reached.
  if (endpoints->size() > 1) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    gantry::v1::ListControlPlanesResponse replicas;
    if (stub->ListControlPlanes(&ctx, {}, &replicas).ok()) {
      for (const auto& r : replicas.replicas()) {
        if (!r.leader() || !r.up() || r.address() == resolved.server) continue;
        auto ch = grpc::CreateCustomChannel(r.address(), channel.credentials, channel.arguments);
        if (Connects(*ch, absl::Seconds(1))) {
          resolved.server = r.address();
          stub = gantry::v1::OperatorService::NewStub(std::move(ch));
        }
      }
    }
  }
  std::unique_ptr<Connection> c(new Connection(resolved, *format, out, err));
  c->stub_ = std::move(stub);
  return c;
}

grpc::Status Connection::ListTasks(gantry::v1::ListTasksRequest request,
                                   gantry::v1::ListTasksResponse* out) {
  out->Clear();
  for (;;) {
    gantry::v1::ListTasksResponse page;
    auto ctx = Context();
    if (auto st = stub_->ListTasks(ctx.get(), request, &page); !st.ok()) return st;
    for (auto& t : *page.mutable_tasks()) *out->add_tasks() = std::move(t);
    if (page.next_page_token().empty()) return grpc::Status::OK;
    request.set_page_token(page.next_page_token());
  }
}

std::unique_ptr<grpc::ClientContext> Connection::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.timeout));
  return ctx;
}

int Connection::Fail(const grpc::Status& status, const std::string& what) const {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message =
        absl::StrCat("cannot reach the control plane at ", options_.server, " (",
                     status.error_message(), "); is it running? Set --server or GANTRY_SERVER");
  }
  err_ << "gantryctl: " << (what.empty() ? "" : what + ": ") << EscapeControls(message) << "\n";
  return 1;
}

int Connection::Fail(const absl::Status& status) const {
  err_ << "gantryctl: " << status.message() << "\n";
  return 1;
}

int Connection::Print(const google::protobuf::Message& message) const {
  out_ << (format_ == Format::kJson ? ToJson(message) : ToYaml(message));
  return 0;
}

}  // namespace gantry::ctl
