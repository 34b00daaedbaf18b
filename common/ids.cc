#include "common/ids.h"

#include <mutex>
#include <random>

#include "absl/strings/str_format.h"

namespace gantry {

std::string NewId() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("%016x%016x", rng(), rng());
}

}  // namespace gantry
