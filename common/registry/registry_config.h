#pragma once

// The `registries` section shared by the agent's config file and the
// control plane's --registry-config file:
//
//   registries:
//     127.0.0.1:5000: {insecure: true}
//     registry.example.org:
//       username: ci
//       passwordFile: /etc/gantry/registry-password   # or password: ...
//
// Unknown keys are errors naming the file and the key.

#include <string>

#include "absl/status/status.h"
#include "common/registry/registry_client.h"
#include "yaml-cpp/yaml.h"

namespace gantry::registry {

// Adds the hosts under `node` (the value of `registries:`) to `config`.
absl::Status ParseRegistries(const YAML::Node& node, const std::string& source,
                             RegistryConfig& config);

// Loads a file whose top level holds `registries:`.
absl::Status LoadRegistryConfigFile(const std::string& path, RegistryConfig& config);

}  // namespace gantry::registry
