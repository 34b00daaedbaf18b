#pragma once

// Turns the control plane's endpoints into HAProxy configuration, and works
// out whether a change needs a reload (listeners or servers changed) or only
// runtime API commands (weights changed), so traffic shifts never reload.
// Pure.

#include <map>
#include <string>
#include <vector>

#include "gantry/v1/operator.pb.h"

namespace gantry::lb {

struct Settings {
  std::string bind_address = "127.0.0.1";
  std::string admin_socket;  // HAProxy's runtime API socket
  std::string pid_file;
};

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

Layout LayoutOf(const gantry::v1::ListEndpointsResponse& endpoints);
std::string BackendName(uint32_t port);
std::string ServerName(const std::string& task_id);

std::string Render(const Layout& layout, const Settings& settings);

// True when going from `before` to `after` changes listeners or servers
// (a reload); otherwise `commands` holds the runtime API commands that move
// the weights.
bool NeedsReload(const Layout& before, const Layout& after, std::vector<std::string>& commands);

}  // namespace gantry::lb
