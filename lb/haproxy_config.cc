#include "lb/haproxy_config.h"

#include "absl/strings/str_cat.h"
#include "common/node_fields.h"
#include "lb/config_values.h"

namespace gantry::lb {

namespace {

// HOST:PORT as HAProxy reads it, an IPv6 host in brackets.
std::string Endpoint(const std::string& address, uint32_t port) {
  if (address.find(':') == std::string::npos) return absl::StrCat(address, ":", port);
  return absl::StrCat("[", address, "]:", port);
}

// Why a listener may not be written; empty when it may.
std::string ListenerProblem(uint32_t port, const std::string& service) {
  if (auto st = CheckPort(port); !st.ok()) return absl::StrCat("port ", st.message());
  if (auto st = CheckServiceName(service); !st.ok()) {
    return absl::StrCat("service name ", QuoteForMessage(service), " ", st.message());
  }
  return "";
}

// Why a server may not be written; empty when it may.
std::string ServerProblem(const std::string& name, const Server& s) {
  if (auto st = CheckServerName(name); !st.ok()) {
    return absl::StrCat("server name ", QuoteForMessage(name), " ", st.message());
  }
  if (auto st = CheckIpLiteral(s.address); !st.ok()) {
    return absl::StrCat("address ", QuoteForMessage(s.address), " ", st.message());
  }
  if (auto st = CheckPort(s.port); !st.ok()) return absl::StrCat("port ", st.message());
  if (auto st = CheckWeight(s.weight); !st.ok()) return absl::StrCat("weight ", st.message());
  return "";
}

std::string ListenerLabel(uint32_t port, const std::string& service) {
  return absl::StrCat("listener on port ", port, " (service ", QuoteForMessage(service), ")");
}

}  // namespace

absl::Status ValidateSettings(const Settings& s) {
  auto bad = [](absl::string_view setting, const std::string& value, const absl::Status& st) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, " ", QuoteForMessage(value), " ", st.message()));
  };
  if (auto st = CheckIpLiteral(s.bind_address); !st.ok()) {
    return bad("bind address", s.bind_address, st);
  }
  if (auto st = CheckConfigPath(s.admin_socket); !st.ok()) {
    return bad("admin socket", s.admin_socket, st);
  }
  if (auto st = CheckConfigPath(s.pid_file); !st.ok()) return bad("pid file", s.pid_file, st);
  if (!s.user.empty()) {
    if (auto st = CheckAccountName(s.user); !st.ok()) return bad("user", s.user, st);
  }
  if (!s.group.empty()) {
    if (auto st = CheckAccountName(s.group); !st.ok()) return bad("group", s.group, st);
  }
  if (!s.chroot.empty()) {
    if (auto st = CheckConfigPath(s.chroot); !st.ok()) return bad("chroot", s.chroot, st);
  }
  return absl::OkStatus();
}

std::string BackendName(uint32_t port) { return absl::StrCat("b", port); }

std::string ServerName(const std::string& task_id) {
  return absl::StrCat("t", task_id.substr(0, 16));
}

Layout LayoutOf(const gantry::v1::ListEndpointsResponse& endpoints,
                std::vector<std::string>* refused) {
  auto refuse = [&](std::string line) {
    if (refused != nullptr) refused->push_back(absl::StrCat(line, "; left out"));
  };
  Layout layout;
  for (const auto& l : endpoints.listeners()) {
    const std::string label = ListenerLabel(l.port(), l.service());
    if (auto why = ListenerProblem(l.port(), l.service()); !why.empty()) {
      refuse(absl::StrCat(label, ": ", why));
      continue;
    }
    if (auto it = layout.find(l.port()); it != layout.end()) {
      refuse(absl::StrCat(label, ": the port is already service ",
                          QuoteForMessage(it->second.service), "'s"));
      continue;
    }
    Listener& out = layout[l.port()];
    out.port = l.port();
    out.service = l.service();
    out.test = l.test();
    std::map<std::string, std::string> task_of;  // server name -> task id
    for (const auto& b : l.backends()) {
      const std::string backend =
          absl::StrCat(label, ": backend task ", QuoteForMessage(b.task_id()), ": ");
      if (auto st = CheckTaskId(b.task_id()); !st.ok()) {
        refuse(absl::StrCat(backend, "task id ", st.message()));
        continue;
      }
      const std::string name = ServerName(b.task_id());
      const Server server{b.address(), b.port(), b.weight()};
      if (auto why = ServerProblem(name, server); !why.empty()) {
        refuse(absl::StrCat(backend, why));
        continue;
      }
      if (auto [it, added] = task_of.emplace(name, b.task_id()); !added) {
        refuse(absl::StrCat(backend, "its server name ", name, " is already task ",
                            QuoteForMessage(it->second), "'s"));
        continue;
      }
      out.servers[name] = server;
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
      "  hard-stop-after 30s\n");
  // Workers drop privileges once their sockets are bound; the master, which
  // re-reads this file on a reload, keeps them.
  if (!settings.user.empty()) absl::StrAppend(&out, "  user ", settings.user, "\n");
  if (!settings.group.empty()) absl::StrAppend(&out, "  group ", settings.group, "\n");
  if (!settings.chroot.empty()) absl::StrAppend(&out, "  chroot ", settings.chroot, "\n");
  absl::StrAppend(&out,
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
    if (!ListenerProblem(port, l.service).empty()) continue;
    const std::string backend = BackendName(port);
    absl::StrAppend(&out, "\nfrontend f", port, "\n  # service ", l.service,
                    l.test ? " (test port)" : "", "\n  bind ",
                    Endpoint(settings.bind_address, port), "\n  default_backend ", backend,
                    "\nbackend ", backend, "\n  balance roundrobin\n");
    for (const auto& [name, s] : l.servers) {
      if (!ServerProblem(name, s).empty()) continue;
      absl::StrAppend(&out, "  server ", name, " ", Endpoint(s.address, s.port), " weight ",
                      s.weight, "\n");
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
        // Only checked values go into a command, as into the file.
        if (!ServerProblem(name, s).empty() || !CheckPort(port).ok()) return true;
        commands.push_back(
            absl::StrCat("set weight ", BackendName(port), "/", name, " ", s.weight));
      }
    }
  }
  return false;
}

}  // namespace gantry::lb
