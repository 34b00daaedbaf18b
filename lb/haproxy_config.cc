#include "lb/haproxy_config.h"

#include "absl/strings/str_cat.h"

namespace gantry::lb {

std::string BackendName(uint32_t port) { return absl::StrCat("b", port); }

std::string ServerName(const std::string& task_id) {
  return absl::StrCat("t", task_id.substr(0, 16));
}

Layout LayoutOf(const gantry::v1::ListEndpointsResponse& endpoints) {
  Layout layout;
  for (const auto& l : endpoints.listeners()) {
    Listener& out = layout[l.port()];
    out.port = l.port();
    out.service = l.service();
    out.test = l.test();
    for (const auto& b : l.backends()) {
      out.servers[ServerName(b.task_id())] = Server{b.address(), b.port(), b.weight()};
    }
  }
  return layout;
}

std::string Render(const Layout& layout, const Settings& settings) {
  std::string out = absl::StrCat(
      "# Written by gantry-lb; changes are overwritten.\n"
      "global\n"
      "  master-worker\n"
      // expose-fd lets a reloaded worker take over the listening sockets,
      // so a reload refuses no connection.
      "  stats socket ",
      settings.admin_socket,
      " mode 600 level admin expose-fd listeners\n"
      "  pidfile ",
      settings.pid_file,
      "\n"
      "  hard-stop-after 30s\n"
      "defaults\n"
      "  mode http\n"
      "  timeout connect 2s\n"
      "  timeout client 30s\n"
      "  timeout server 30s\n"
      "  timeout http-keep-alive 2s\n"
      // A server that vanished between our updates: try another one.
      "  retries 3\n"
      "  option redispatch 1\n"
      "  retry-on conn-failure empty-response response-timeout\n");
  for (const auto& [port, l] : layout) {
    const std::string backend = BackendName(port);
    absl::StrAppend(&out, "\nfrontend f", port, "\n  # service ", l.service,
                    l.test ? " (test port)" : "", "\n  bind ", settings.bind_address, ":", port,
                    "\n  default_backend ", backend, "\nbackend ", backend,
                    "\n  balance roundrobin\n");
    for (const auto& [name, s] : l.servers) {
      absl::StrAppend(&out, "  server ", name, " ", s.address, ":", s.port, " weight ", s.weight,
                      "\n");
    }
  }
  return out;
}

bool NeedsReload(const Layout& before, const Layout& after, std::vector<std::string>& commands) {
  commands.clear();
  if (before.size() != after.size()) return true;
  for (const auto& [port, l] : after) {
    auto it = before.find(port);
    if (it == before.end() || it->second.servers.size() != l.servers.size()) return true;
    for (const auto& [name, s] : l.servers) {
      auto old = it->second.servers.find(name);
      if (old == it->second.servers.end() || old->second.address != s.address ||
          old->second.port != s.port) {
        return true;
      }
      if (old->second.weight != s.weight) {
        commands.push_back(
            absl::StrCat("set weight ", BackendName(port), "/", name, " ", s.weight));
      }
    }
  }
  return false;
}

}  // namespace gantry::lb
