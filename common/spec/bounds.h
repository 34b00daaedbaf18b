#pragma once

// Size limits on what a task definition or a service may hold, checked by
// the control plane on every call (a gRPC client need not be gantryctl) and
// by gantryctl before sending. They keep one request from costing a process
// its memory or stack and keep sums (a node's allocated cpu and memory over
// thousands of tasks) far from int64 overflow. Errors name the field and the
// limit; every limit is declared here once, and docs/reliability.md lists
// them. Pure functions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/spec/validation.h"
#include "gantry/v1/types.pb.h"

namespace gantry::spec {

// A task definition.
inline constexpr int kMaxContainers = 10;  // as ECS
inline constexpr int kMaxPortsPerTask = 100;
inline constexpr int kMaxSecretsPerContainer = 100;
inline constexpr int kMaxEnvironmentEntries = 512;
inline constexpr size_t kMaxEnvironmentBytes = 64 * 1024;  // keys and values of one container
inline constexpr int kMaxCommandArgs = 512;
inline constexpr size_t kMaxCommandBytes = 64 * 1024;  // all arguments of one command
inline constexpr size_t kMaxImageReference = 512;
inline constexpr int kMaxCapabilities = 64;  // in add, and in drop
inline constexpr int kMaxUlimits = 16;
inline constexpr int kMaxHealthCheckArgs = 64;
inline constexpr size_t kMaxHealthCheckBytes = 4 * 1024;
inline constexpr size_t kMaxHttpPath = 1024;
// 1,024 cores and 16 TiB per container: ten containers of 10,000 tasks on
// one node still sum to well under int64's range.
inline constexpr int64_t kMaxContainerCpu = 1024 * 1000;
inline constexpr int64_t kMaxContainerMemory = int64_t{1} << 44;

// A service.
inline constexpr int kMaxPlacementStrategies = 5;
inline constexpr int kMaxPlacementConstraints = 10;
inline constexpr size_t kMaxPromQl = 4 * 1024;
inline constexpr int kMaxScalingPolicies = 10;  // target tracking, and step scaling
inline constexpr int kMaxScalingSteps = 20;
inline constexpr int kMaxAlarmRules = 20;
inline constexpr size_t kMaxAlarmName = 128;
inline constexpr size_t kMaxAddress = 512;  // Prometheus addresses

// Appends an error per limit `td` or `service` exceeds.
void CheckTaskDefinitionBounds(const gantry::v1::TaskDefinition& td,
                               std::vector<FieldError>& errors);
void CheckServiceBounds(const gantry::v1::Service& service, std::vector<FieldError>& errors);

}  // namespace gantry::spec
