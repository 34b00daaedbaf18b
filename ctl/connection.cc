#include "ctl/connection.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"

namespace gantry::ctl {

std::string CanonicalKind(const std::string& kind) {
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

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(const GlobalOptions& options,
                                                                std::ostream& out,
                                                                std::ostream& err) {
  auto format = ParseFormat(options.output);
  if (!format.ok()) return format.status();
  auto channel_options = MakeClientChannel(options.tls, options.server);
  if (!channel_options.ok()) return channel_options.status();
  std::unique_ptr<Connection> c(new Connection(options, *format, out, err));
  c->stub_ = gantry::v1::OperatorService::NewStub(grpc::CreateCustomChannel(
      options.server, channel_options->credentials, channel_options->arguments));
  return c;
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
  err_ << "gantryctl: " << (what.empty() ? "" : what + ": ") << message << "\n";
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
