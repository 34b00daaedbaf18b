#pragma once

// Where container output lives under the agent's data dir:
// <data_dir>/logs/<task id>/<container>.log, with the rotated predecessor
// beside it as <container>.log.1. The reconciler points the runtime there,
// NodeUpkeep rotates and collects the files, the LogServer reads them.
// Pure functions.

#include <filesystem>
#include <string>

namespace gantry::agent {

inline std::string LogsRoot(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "logs").string();
}

inline std::string TaskLogDir(const std::string& data_dir, const std::string& task_id) {
  return (std::filesystem::path(LogsRoot(data_dir)) / task_id).string();
}

inline std::string ContainerLogPath(const std::string& data_dir, const std::string& task_id,
                                    const std::string& container) {
  return (std::filesystem::path(TaskLogDir(data_dir, task_id)) / (container + ".log")).string();
}

}  // namespace gantry::agent
