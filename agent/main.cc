// gantry-agent: settings, logging, then the agent until SIGINT or SIGTERM.
// The settings table is agent/config.h; the wiring, agent/agent_factory.h.

#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/string_view.h"
#include "agent/agent_factory.h"
#include "agent/agent_flags.h"
#include "common/log.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "common/signals.h"

namespace {

[[noreturn]] void Die(absl::string_view message) {
  std::cerr << "gantry-agent: " << message << "\n";
  std::exit(2);
}

// Every thread started from here on leaves these signals to sigwait.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace

int main(int argc, char** argv) {
  gantry::IgnoreSigpipe();
  CLI::App app{"Gantry node agent: runs the control plane's tasks on containerd"};
  gantry::agent::AgentFlags flags(app);
  CLI11_PARSE(app, argc, argv);
  auto config = flags.Resolve();
  if (!config.ok()) Die(config.status().message());
  if (auto st = gantry::SetupLogging("agent", config->log_level); !st.ok()) Die(st.message());

  const sigset_t signals = BlockStopSignals();
  auto agent = gantry::agent::CreateAgent(*config, gantry::RealClock::Get());
  if (!agent.ok()) Die(agent.status().message());
  if (auto st = (*agent)->Start(); !st.ok()) {
    spdlog::critical("cannot start: {}", st.message());
    return 1;
  }
  const auto& capacity = (*agent)->options().session.identity.capacity();
  spdlog::info("agent {} (zone {}, {} cpu, {} memory) talking to {}", config->node_name,
               config->zone, gantry::FormatCpu(capacity.cpu()),
               gantry::FormatMemory(capacity.memory()), config->controlplane);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping the agent; containers keep running", sig);
  (*agent)->Stop();
  return 0;
}
