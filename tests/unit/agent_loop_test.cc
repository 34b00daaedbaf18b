// The agent's loop runs on the injected clock: a pass at once, then one
// whenever the tick interval has passed on that clock. The test waits for
// passes, never for time.

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/agent.h"
#include "tests/fakes/fake_runtime.h"

namespace gantry::agent {
namespace {

// Waits for `done` with a generous real deadline (a hang, not a timing
// assertion).
template <typename F>
bool Eventually(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(AgentLoop, PassesFollowTheInjectedClock) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("gantry-agent-loop-" + std::to_string(::getpid()));
  FakeRuntime runtime;
  FakeClock clock;
  Agent::Options o;
  o.reconciler.data_dir = dir.string();
  o.reconciler.node_name = "n1";
  o.session.controlplane = "127.0.0.1:1";  // nobody: the session keeps retrying
  o.session.identity.set_node_name("n1");
  o.tick_interval = absl::Hours(1);
  o.container_storage = dir.string();
  o.health.threads = 0;
  Agent agent(&runtime, &clock, o);
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(Eventually([&] { return agent.reconciler()->passes() >= 1; }));
  const int64_t first = agent.reconciler()->passes();
  clock.Advance(absl::Hours(1));
  ASSERT_TRUE(Eventually([&] { return agent.reconciler()->passes() > first; }));
  agent.Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gantry::agent
