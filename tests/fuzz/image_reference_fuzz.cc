// Image references ("registry:5000/team/app:1.2@sha256:..."): parsed from any
// text; an accepted one prints to a reference that parses to itself.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/registry/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto ref = gantry::registry::ParseReference(text);
  if (!ref.ok()) return 0;
  auto again = gantry::registry::ParseReference(ref->String());
  if (!again.ok() || again->String() != ref->String()) std::abort();
  return 0;
}
