// The YAML files users apply: parsing and validation must answer every input
// with a request or an error, never a crash, a hang or an unbounded
// allocation. Each accepted request validates again as the control plane
// would check it.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/spec/validation.h"
#include "ctl/spec_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto request = gantry::ctl::ParseSpecs(text, "fuzz.yaml");
  if (!request.ok()) return 0;
  for (auto td : request->task_definitions()) {
    gantry::spec::ApplyDefaults(td);
    (void)gantry::spec::ValidateTaskDefinition(td);
  }
  for (const auto& s : request->services()) (void)gantry::spec::ValidateService(s);
  return 0;
}
