#pragma once

#include <string>

namespace gantry {

// A random 128-bit identifier as 32 lowercase hex characters. Thread-safe.
std::string NewId();

}  // namespace gantry
