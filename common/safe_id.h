#pragma once

#include <string>

namespace gantry {

// Whether `id` (a task id from the control plane or a container label) may
// name a file or directory: 1..128 letters, digits, '-' and '_'.
bool IsSafePathId(const std::string& id);

}  // namespace gantry
