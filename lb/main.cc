// gantry-lb: drives HAProxy from the control plane's endpoints; see
// balancer.h. Flag parsing and wiring only.

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/logging.h"
#include "common/node_fields.h"
#include "common/quantity.h"
#include "common/signals.h"
#include "common/tls.h"
#include "lb/balancer.h"
#include "lb/config_values.h"
#include "lb/grpc_endpoints_source.h"
#include "lb/haproxy.h"
#include "lb/privileges.h"

namespace {

struct Flags {
  std::string controlplane = "127.0.0.1:7070";
  gantry::TlsFiles tls;
  std::string token_file;
  std::string work_dir;
  std::string haproxy = "/usr/sbin/haproxy";
  std::string bind_address = "127.0.0.1";
  // Debian's haproxy package makes both.
  std::string haproxy_user = "haproxy";
  std::string haproxy_chroot = "/var/lib/haproxy";
  absl::Duration poll_interval = absl::Milliseconds(250);
};

// What Balancer drives: the real HAProxy and the control plane over gRPC.
struct Wiring {
  std::unique_ptr<gantry::lb::Haproxy> haproxy;
  std::unique_ptr<gantry::lb::GrpcEndpointsSource> endpoints;
  std::unique_ptr<gantry::lb::Balancer> balancer;
};

// An error only for unusable flags.
absl::Status Wire(const Flags& flags, Wiring& wiring) {
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::absolute(flags.work_dir, ec);
  // Its paths are written into HAProxy's configuration.
  if (auto st = gantry::lb::CheckConfigPath(dir.string()); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--work-dir ", gantry::QuoteForMessage(dir.string()), " ", st.message()));
  }
  if (auto st = gantry::CheckIpLiteral(flags.bind_address); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bind ", gantry::QuoteForMessage(flags.bind_address), " ", st.message()));
  }
  auto privileges = gantry::lb::ResolvePrivileges(flags.haproxy_user, flags.haproxy_chroot,
                                                  gantry::lb::RealHost());
  if (!privileges.ok()) return privileges.status();
  for (const auto& note : privileges->notes) spdlog::warn("{}", note);
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--work-dir ", flags.work_dir, ": ", ec.message()));
  }
  std::string token;
  if (const char* env = std::getenv("GANTRY_TOKEN"); env != nullptr) token = env;
  if (!flags.token_file.empty()) {
    auto text = gantry::ReadTokenFile(flags.token_file, "--token-file");
    if (!text.ok()) return text.status();
    token = *std::move(text);
  }
  auto endpoints = gantry::lb::GrpcEndpointsSource::Connect(flags.controlplane, flags.tls, token);
  if (!endpoints.ok()) return endpoints.status();
  wiring.endpoints = std::move(*endpoints);
  gantry::lb::Balancer::Options options;
  options.settings.bind_address = flags.bind_address;
  options.settings.admin_socket = (dir / "admin.sock").string();
  options.settings.pid_file = (dir / "haproxy.pid").string();
  options.settings.user = privileges->user;
  options.settings.group = privileges->group;
  options.settings.chroot = privileges->chroot;
  if (auto st = gantry::lb::ValidateSettings(options.settings); !st.ok()) return st;
  options.poll_interval = flags.poll_interval;
  wiring.haproxy = std::make_unique<gantry::lb::Haproxy>(
      flags.haproxy, (dir / "haproxy.cfg").string(), options.settings.admin_socket);
  wiring.balancer = std::make_unique<gantry::lb::Balancer>(
      wiring.haproxy.get(), wiring.endpoints.get(), gantry::RealClock::Get(), options);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  gantry::IgnoreSigpipe();
  CLI::App app{"gantry-lb: load balancer for Gantry services, driving HAProxy"};
  Flags flags;
  std::string poll = "250ms";
  std::string log_level = "info";
  app.add_option("--controlplane", flags.controlplane,
                 "control plane HOST:PORT, or several replicas comma-separated")
      ->capture_default_str();
  app.add_option("--tls-ca", flags.tls.ca,
                 "CA of the control plane's certificate (DATA_DIR/pki/ca.pem)")
      ->required();
  app.add_option("--token-file", flags.token_file,
                 "file with a token of role lb (or set GANTRY_TOKEN)");
  app.add_option("--tls-cert", flags.tls.cert,
                 "client certificate (O=gantry:role:lb) instead of a token");
  app.add_option("--tls-key", flags.tls.key, "its private key");
  app.add_option("--work-dir", flags.work_dir, "HAProxy's configuration and sockets")->required();
  app.add_option("--haproxy", flags.haproxy, "the haproxy binary")->capture_default_str();
  app.add_option("--bind", flags.bind_address, "IP address the listeners bind")
      ->capture_default_str();
  app.add_option("--haproxy-user", flags.haproxy_user,
                 "user (and its group) HAProxy's workers run as when gantry-lb is root; empty: "
                 "root")
      ->capture_default_str();
  app.add_option("--haproxy-chroot", flags.haproxy_chroot,
                 "directory HAProxy's workers chroot to when gantry-lb is root; empty: none")
      ->capture_default_str();
  app.add_option("--poll-interval", poll, "how often endpoints are read")->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (auto st = gantry::SetupLogging("lb", log_level); !st.ok()) {
    std::cerr << "gantry-lb: " << st.message() << "\n";
    return 2;
  }
  auto interval = gantry::ParseDurationText(poll);
  if (!interval.ok()) {
    std::cerr << "gantry-lb: --poll-interval: " << interval.status().message() << "\n";
    return 2;
  }
  flags.poll_interval = *interval;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Wiring wiring;
  if (auto st = Wire(flags, wiring); !st.ok()) {
    spdlog::critical("{}", st.message());
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    wiring.balancer->Stop();
  });
  wiring.balancer->Run();
  waiter.join();
  return 0;
}
