#pragma once

// The agent's command line, made from the settings table: one flag per
// setting that has one, typed and with its default and config-file key in
// --help, plus --config FILE. Resolve(), after the App parsed the command
// line, layers the defaults, the file and the flags actually given.
//
// Not thread-safe; the CLI::App must outlive this object, and this object
// must stay where it is (the App writes into it).

#include <deque>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "agent/config.h"

namespace gantry::agent {

class AgentFlags {
 public:
  explicit AgentFlags(CLI::App& app);
  AgentFlags(const AgentFlags&) = delete;
  AgentFlags& operator=(const AgentFlags&) = delete;

  absl::StatusOr<AgentConfig> Resolve() const;

 private:
  struct Flag {
    const Setting* setting = nullptr;
    CLI::Option* option = nullptr;
    std::string value;                // single-valued flags
    std::vector<std::string> values;  // repeatable ones
  };

  std::string config_path_;
  std::deque<Flag> flags_;  // stable addresses: CLI11 writes into them
};

}  // namespace gantry::agent
