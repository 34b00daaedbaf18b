#pragma once

// gantryctl's link to the control plane and to the terminal: the operator
// API stub on a channel with the right credentials, a deadline per call, the
// output format, and how failures are printed ("gantryctl: ..." on stderr,
// exit code 1). Every command group works through one Connection.
//
// Not thread-safe: gantryctl runs one command.

#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "ctl/output.h"
#include "gantry/v1/operator.grpc.pb.h"

namespace gantry::ctl {

// Flags and environment; what they leave empty comes from the client
// config's context (client_config.h).
struct GlobalOptions {
  std::string server;
  TlsFiles tls;
  std::string token;
  std::string token_file;
  std::string context;      // empty: the config's current context
  std::string config_path;  // empty: DefaultConfigPath()
  std::string output = "table";
  absl::Duration timeout = absl::Seconds(30);
};

class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Connect(const GlobalOptions& options,
                                                             std::ostream& out, std::ostream& err);

  gantry::v1::OperatorService::Stub& api() { return *stub_; }
  // A context with the per-call deadline.
  std::unique_ptr<grpc::ClientContext> Context() const;
  // Every task `request` selects, following ListTasks' pages (each call has
  // its own deadline).
  grpc::Status ListTasks(gantry::v1::ListTasksRequest request, gantry::v1::ListTasksResponse* out);
  // Prints the error (naming `what` when given) and returns 1. An
  // unreachable control plane says where it was looked for and how to
  // point gantryctl elsewhere.
  int Fail(const grpc::Status& status, const std::string& what) const;
  int Fail(const absl::Status& status) const;
  // Prints the message as JSON or YAML; returns 0.
  int Print(const google::protobuf::Message& message) const;

  Format format() const { return format_; }
  const std::string& server() const { return options_.server; }
  bool table() const { return format_ == Format::kTable; }
  std::ostream& out() const { return out_; }
  std::ostream& err() const { return err_; }

 private:
  // Fills in the server from the config; returns the TLS material and the
  // token to use.
  static absl::StatusOr<std::pair<ClientTls, std::string>> Resolve(GlobalOptions& options);
  Connection(GlobalOptions options, Format format, std::ostream& out, std::ostream& err)
      : options_(std::move(options)), format_(format), out_(out), err_(err) {}

  const GlobalOptions options_;
  const Format format_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<gantry::v1::OperatorService::Stub> stub_;
};

// Accepts singular, plural and short names ("service", "services", "svc")
// and returns the singular, or "" for an unknown kind.
std::string CanonicalKind(const std::string& kind);

}  // namespace gantry::ctl
