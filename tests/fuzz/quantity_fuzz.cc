// Quantities and durations as users write them ("250m", "64Mi", "1h30m"):
// an answer or an error for any text, and what is accepted formats without
// trouble.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)gantry::ParseCpu(text);
  if (auto memory = gantry::ParseMemory(text); memory.ok()) (void)gantry::FormatMemory(*memory);
  if (auto d = gantry::ParseDurationText(text); d.ok()) (void)gantry::FormatDurationText(*d);
  return 0;
}
