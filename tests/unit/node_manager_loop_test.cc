// NodeManager's own loop on a fake clock: woken by registrations and state
// changes, and checking liveness when the clock passes the interval. The
// tests wait for what the loop does, never for time.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "controlplane/nodes/node_manager.h"
#include "tests/fakes/recording_connection.h"
#include "tests/unit/nodes_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Node;
using gantry::v1::Task;

class NodeManagerLoopTest : public NodesFixture {
 protected:
  NodeManagerLoopTest() {
    state_->AddListener([this](const state::Change& c) {
      nodes_.OnStateChange(c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        changes_++;
      }
      cv_.notify_all();
    });
  }

  // Waits until `done` holds, looking again after every state change;
  // false after a generous real deadline (a hang, not a timing assertion).
  bool WaitUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      const int seen = changes_;
      lock.unlock();
      if (done()) return true;
      lock.lock();
      if (!cv_.wait_until(lock, deadline, [&] { return changes_ != seen; })) return false;
    }
  }

  std::shared_ptr<RecordingConnection> Register(const std::string& name) {
    auto conn = std::make_shared<RecordingConnection>();
    gantry::v1::RegisterRequest r;
    r.set_node_name(name);
    r.set_zone("a");
    r.set_address("10.0.0.1");
    r.mutable_capacity()->set_cpu(4000);
    r.mutable_capacity()->set_memory(int64_t{8} << 30);
    r.set_port_range_start(20000);
    r.set_port_range_end(20100);
    EXPECT_TRUE(nodes_.Register(conn, r).ok());
    return conn;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int changes_ = 0;
  nodes::NodeManager nodes_{state_.get(), events_.get(), &clock_, nodes::NodeManager::Options()};
};

TEST_F(NodeManagerLoopTest, RegistrationsAndTaskChangesWakeThePush) {
  PutWebTaskDefinition();
  nodes_.Start();
  auto conn = Register("n1");
  ASSERT_TRUE(conn->WaitForDesired([](const auto& d) { return d.tasks_size() == 0; }));
  PutTask("t1", "n1");
  ASSERT_TRUE(conn->WaitForDesired([](const auto& d) { return d.tasks_size() == 1; }))
      << "a task placed on the node is pushed without a Tick()";
  PutTask("t1", "n1", Task::STOPPED, Task::RUNNING);
  ASSERT_TRUE(conn->WaitForDesired([](const auto& d) { return d.tasks_size() == 0; }));
  nodes_.Stop();
  nodes_.Stop();
}

TEST_F(NodeManagerLoopTest, SilentNodesGoDownOnTheInjectedClock) {
  nodes_.Start();
  auto conn = Register("n1");
  nodes_.OnDisconnect("n1", conn.get());
  clock_.Advance(absl::Seconds(11));
  EXPECT_TRUE(WaitUntil([&] { return state_->GetNode("n1")->value.status() == Node::DOWN; }));
}

}  // namespace
}  // namespace gantry::testing
