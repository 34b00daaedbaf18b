#pragma once

// Semantic validation of task definitions and services, shared by gantryctl
// (before anything is sent) and the control plane (for every API call, since
// the API can be called without gantryctl). Errors carry a field path such
// as "containers[0].memory" so callers can prefix file and document.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gantry/v1/types.pb.h"

namespace gantry::spec {

struct FieldError {
  std::string field;
  std::string problem;
};

// What ApplyDefaults gives a task definition that says nothing: a network
// of its own, as ECS's awsvpc.
inline constexpr char kDefaultNetworkMode[] = "task";
// What a stored definition without a mode means: one applied before task
// networking existed ran on the host's network, and keeps doing so until
// it is applied again.
inline constexpr char kUnsetNetworkMode[] = "host";
// "task" or "host".
std::string NetworkModeOf(const gantry::v1::TaskDefinition& td);

std::vector<FieldError> ValidateTaskDefinition(const gantry::v1::TaskDefinition& td);
std::vector<FieldError> ValidateService(const gantry::v1::Service& service);

// InvalidArgument "context: field: problem; field: problem", or OK when empty.
absl::Status ErrorsToStatus(absl::string_view context, const std::vector<FieldError>& errors);

// Splits "web" or "web:3" into family and revision (0 = latest).
struct TaskDefinitionRef {
  std::string family;
  int64_t revision = 0;
};
absl::StatusOr<TaskDefinitionRef> ParseTaskDefinitionRef(absl::string_view ref);

// Defaults the API applies to fields the user left out (essential, stop
// timeout). Validation runs after this.
void ApplyDefaults(gantry::v1::TaskDefinition& td);

inline constexpr int64_t kMinMemoryBytes = 4 << 20;
inline constexpr int kMaxDesiredCount = 100000;

}  // namespace gantry::spec
