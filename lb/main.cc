// gantry-lb: drives HAProxy from the control plane's endpoints; see
// balancer.h. Flag parsing and wiring only.

#include <csignal>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/log.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "common/signals.h"
#include "lb/balancer.h"

int main(int argc, char** argv) {
  gantry::IgnoreSigpipe();
  CLI::App app{"gantry-lb: load balancer for Gantry services, driving HAProxy"};
  gantry::lb::Balancer::Options options;
  std::string poll = "250ms";
  std::string log_level = "info";
  app.add_option("--controlplane", options.controlplane, "control plane HOST:PORT")
      ->capture_default_str();
  app.add_option("--tls-ca", options.tls.ca, "CA of the control plane's certificate");
  app.add_option("--tls-cert", options.tls.cert, "client certificate (PEM)");
  app.add_option("--tls-key", options.tls.key, "client private key (PEM)");
  app.add_option("--work-dir", options.work_dir, "HAProxy's configuration and sockets")->required();
  app.add_option("--haproxy", options.haproxy, "the haproxy binary")->capture_default_str();
  app.add_option("--bind", options.bind_address, "address the listeners bind")
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
  options.poll_interval = *interval;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  gantry::lb::Balancer balancer(options);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    balancer.Stop();
  });
  auto st = balancer.Run();
  if (!st.ok()) {
    spdlog::critical("{}", st.message());
    kill(getpid(), SIGTERM);
    waiter.join();
    return 1;
  }
  waiter.join();
  return 0;
}
