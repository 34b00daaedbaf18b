#pragma once

// gantryctl's client configuration, like kubeconfig: named contexts, each a
// control plane address, the cluster CA (PEM) and a token, and the current
// one. Kept in ~/.config/gantry/config.yaml (GANTRY_CONFIG overrides),
// mode 0600 in a 0700 directory, because it holds a token.
//
//   current-context: local
//   contexts:
//     - name: local
//       server: 127.0.0.1:7070
//       ca: |
//         -----BEGIN CERTIFICATE-----
//         ...
//       token: gantry_...
//
// Flags and GANTRY_SERVER / GANTRY_TOKEN / GANTRY_TLS_CA override it
// (Connection resolves them).

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gantry::ctl {

struct ClientContext {
  std::string name;
  std::string server;
  std::string ca_pem;
  std::string token;
};

struct ClientConfig {
  std::string current_context;
  std::vector<ClientContext> contexts;

  // The named context (the current one when `name` is empty), or null.
  const ClientContext* Find(const std::string& name) const;
  // Replaces the context with the same name or adds it, and makes it current.
  void Upsert(ClientContext context);
};

// GANTRY_CONFIG, or $HOME/.config/gantry/config.yaml.
std::string DefaultConfigPath();
// An absent file is an empty config; a malformed one is an error naming
// the file and the field.
absl::StatusOr<ClientConfig> LoadClientConfig(const std::string& path);
absl::Status SaveClientConfig(const std::string& path, const ClientConfig& config);

}  // namespace gantry::ctl
