// Prometheus' /api/v1/query answers: a number, or an error — never a number
// made up from a malformed answer, never a crash.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "controlplane/autoscaling/prometheus_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto result = gantry::autoscaling::ParseQueryResponse(body);
  if (result.ok()) (void)gantry::autoscaling::SingleValue(*result);
  return 0;
}
