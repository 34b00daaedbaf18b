// memberOf expressions: parsed from any text, and a parsed one matches any
// node without crashing.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/placement/expression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto e = gantry::scheduler::Expression::Parse(text);
  if (!e.ok()) return 0;
  const std::string name = "node-1", zone = "a";
  const std::map<std::string, std::string> attributes = {{"disk", "ssd"}, {"gpu", ""}};
  (void)e->Matches({&name, &zone, &attributes});
  (void)e->Matches({&name, &zone, nullptr});
  return 0;
}
