#pragma once

// Turns the control plane's endpoints into HAProxy configuration, and works
// out whether a change needs a reload (listeners or servers changed) or only
// runtime API commands (weights changed), so traffic shifts never reload.
//
// Nothing reaches the configuration or a command that has not passed the
// checks of config_values.h. LayoutOf() leaves out, and reports, each
// listener with a bad port or service name (or a port another listener
// already has) and each backend with a bad task id, address (it must be an
// IP literal), port or weight, or whose server name another backend already
// has; the rest of the layout stands. Render() writes a layout's values only
// after the same checks (a layout not made by LayoutOf() loses what fails
// them, silently) and expects Settings that passed ValidateSettings().
//
// Pure.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::lb {

struct Settings {
  std::string bind_address = "127.0.0.1";
  std::string admin_socket;  // HAProxy's runtime API socket
  std::string pid_file;
  // What HAProxy's workers drop to after binding their sockets (the master,
  // which reloads, stays as it was started); empty: the global section
  // says nothing of it. See privileges.h.
  std::string user;
  std::string group;
  std::string chroot;
};

// OK when every setting may be written: the bind address an IP literal, the
// paths absolute and plain (CheckConfigPath), user and group plain names.
// The error names the setting.
absl::Status ValidateSettings(const Settings& settings);

// One listener as HAProxy sees it: backend servers by name.
struct Server {
  std::string address;
  uint32_t port = 0;
  int weight = 0;
  bool operator==(const Server&) const = default;
};
struct Listener {
  uint32_t port = 0;
  std::string service;
  bool test = false;
  std::map<std::string, Server> servers;  // by server name
};
using Layout = std::map<uint32_t, Listener>;  // by listening port

// The layout `endpoints` describe, without what fails the checks. When
// `refused` is given, it receives one line per listener or backend left
// out, naming it and the field, with the value quoted and escaped.
Layout LayoutOf(const gantry::v1::ListEndpointsResponse& endpoints,
                std::vector<std::string>* refused = nullptr);
std::string BackendName(uint32_t port);
std::string ServerName(const std::string& task_id);

std::string Render(const Layout& layout, const Settings& settings);

// True when going from `before` to `after` changes listeners or servers
// (a reload); otherwise `commands` holds the runtime API commands that move
// the weights.
bool NeedsReload(const Layout& before, const Layout& after, std::vector<std::string>& commands);

}  // namespace gantry::lb
