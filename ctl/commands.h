#pragma once

// gantryctl's commands. Each returns the process exit code and prints its
// output to `out` and one-line errors ("gantryctl: ...") to `err`.

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls.h"
#include "ctl/output.h"
#include "gantry/v1/operator.grpc.pb.h"

namespace gantry::ctl {

struct GlobalOptions {
  std::string server;
  TlsFiles tls;
  std::string output = "table";
  absl::Duration timeout = absl::Seconds(30);
};

class Commands {
 public:
  static absl::StatusOr<std::unique_ptr<Commands>> Connect(const GlobalOptions& options,
                                                           std::ostream& out, std::ostream& err);

  int Apply(const std::string& file);
  int Get(const std::string& kind, const std::string& name, const std::string& service,
          const std::string& node, bool all);
  int Describe(const std::string& kind, const std::string& name);
  int Scale(const std::string& kind, const std::string& name, int count);
  int Delete(const std::string& kind, const std::string& name, bool wait);
  // drain (DRAINING) or activate (ACTIVE) a node.
  int SetNodeStatus(const std::string& kind, const std::string& name, bool drain);
  int Logs(const std::string& task, const std::string& container, bool follow, int64_t tail);
  int Events(const std::string& service, int limit, bool watch);
  // Waits for the service's deployment (its newest when empty): 0 when
  // COMPLETED, 1 when FAILED or rolled back, 2 on timeout.
  int RolloutStatus(const std::string& service, const std::string& deployment,
                    absl::Duration timeout);
  int RolloutUndo(const std::string& service);
  // apply, then (with wait) rollout status of every service in the file.
  int Deploy(const std::string& file, bool wait, absl::Duration timeout);

 private:
  Commands(GlobalOptions options, Format format, std::ostream& out, std::ostream& err)
      : options_(std::move(options)), format_(format), out_(out), err_(err) {}
  std::unique_ptr<grpc::ClientContext> Context() const;
  int Fail(const grpc::Status& status, const std::string& what) const;
  int Fail(const absl::Status& status) const;
  int Print(const google::protobuf::Message& message) const;

  const GlobalOptions options_;
  const Format format_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<gantry::v1::OperatorService::Stub> stub_;
};

}  // namespace gantry::ctl
