#include "agent/secrets/session_secret_source.h"

#include "absl/time/clock.h"

namespace gantry::agent {

absl::StatusOr<gantry::v1::TaskSecrets> SessionSecretSource::Fetch(const std::string& task_id) {
  auto channel = session_->channel();
  if (channel == nullptr) {
    return absl::UnavailableError("not connected to the control plane; retried when connected");
  }
  auto stub = gantry::v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  gantry::v1::GetTaskSecretsRequest request;
  request.set_task_id(task_id);
  gantry::v1::TaskSecrets response;
  const grpc::Status status = stub->GetTaskSecrets(&context, request, &response);
  if (!status.ok()) {
    const auto code = static_cast<absl::StatusCode>(status.error_code());
    // A deadline or a broken connection is worth another try.
    const bool transient =
        code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
    return absl::Status(transient ? absl::StatusCode::kUnavailable : code, status.error_message());
  }
  return response;
}

}  // namespace gantry::agent
