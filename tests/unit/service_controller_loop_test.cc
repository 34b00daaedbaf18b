// The ServiceController's loop on a fake clock: a first pass over every
// service, MarkDirty() waking it, the periodic resync on the clock, and a
// recheck bringing a pass forward. Tests wait for the state to change,
// never for time to pass.

#include <gmock/gmock.h>

#include <condition_variable>
#include <functional>
#include <mutex>

#include "tests/unit/controllers_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;

class ServiceControllerLoopTest : public ControllersFixture {
 protected:
  void SetUp() override {
    ControllersFixture::SetUp();
    state_->AddListener([this](const state::Change& change) {
      std::lock_guard<std::mutex> lock(mu_);
      if (notify_ != nullptr) notify_->MarkDirty(change.services);
      changes_++;
      cv_.notify_all();
    });
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      notify_ = nullptr;
    }
    controller_.reset();
  }
  // Runs a controller with `options`; with `wired`, state changes mark
  // services dirty as the control plane wires it.
  void Run(controllers::ServiceController::Options options, bool wired) {
    controller_ = std::make_unique<controllers::ServiceController>(state_.get(), events_.get(),
                                                                   &clock_, options);
    if (wired) {
      std::lock_guard<std::mutex> lock(mu_);
      notify_ = controller_.get();
    }
    controller_->Start();
  }
  // Waits until `done` holds, looking again at each state change; false
  // after a generous real deadline (a hang, not a timing assertion).
  bool WaitFor(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen = changes_;
      }
      if (done()) return true;
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_until(lock, deadline, [&] { return changes_ != seen; })) {
        lock.unlock();
        return done();
      }
    }
  }
  int Live() {
    int n = 0;
    for (const auto& t : Tasks()) n += t.desired_status() == Task::RUNNING ? 1 : 0;
    return n;
  }
  void Scale(int count) {
    gantry::v1::ScaleServiceRequest scale;
    scale.set_name("web");
    scale.set_desired_count(count);
    ASSERT_TRUE(api_->ScaleService(scale).ok());
  }

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t changes_ = 0;
  controllers::ServiceController* notify_ = nullptr;
};

controllers::ServiceController::Options Resync(absl::Duration interval) {
  controllers::ServiceController::Options options;
  options.resync_interval = interval;
  return options;
}

TEST_F(ServiceControllerLoopTest, TheFirstPassCoversEveryService) {
  Apply(3);
  Run(Resync(absl::Hours(1)), /*wired=*/false);
  EXPECT_TRUE(WaitFor([&] { return Live() == 3; }));
}

TEST_F(ServiceControllerLoopTest, MarkDirtyWakesTheLoop) {
  Apply(1);
  Run(Resync(absl::Hours(1)), /*wired=*/true);
  ASSERT_TRUE(WaitFor([&] { return Live() == 1; }));
  Scale(3);  // the clock stands still: only the notification can explain a pass
  EXPECT_TRUE(WaitFor([&] { return Live() == 3; }));
}

TEST_F(ServiceControllerLoopTest, TheResyncComesOnTheInjectedClock) {
  Apply(1);
  Run(Resync(absl::Seconds(10)), /*wired=*/false);
  ASSERT_TRUE(WaitFor([&] { return Live() == 1; }));
  // The resync is due an interval after the first pass ended. Passes never
  // overlap, so once a second pass (over another service only) has placed
  // its task, the first one is over.
  gantry::v1::ApplyRequest other;
  auto td = WebTd();
  td.set_family("api");
  *other.add_task_definitions() = td;
  auto* s = other.add_services();
  s->set_name("api");
  s->set_task_definition("api");
  s->set_desired_count(1);
  ASSERT_TRUE(api_->Apply(other).ok());
  controller_->MarkDirty({"api"});
  ASSERT_TRUE(WaitFor([&] { return state_->ListTasks({.service = "api"}).size() == 1; }));
  Scale(3);  // nobody tells the controller
  clock_.Advance(absl::Seconds(10));
  EXPECT_TRUE(WaitFor([&] { return Live() == 3; }));
}

TEST_F(ServiceControllerLoopTest, ARecheckBringsAPassForward) {
  Apply(3);
  Run(Resync(absl::Hours(1)), /*wired=*/false);
  ASSERT_TRUE(WaitFor([&] { return Live() == 3; }));
  const Task victim = Tasks()[0];
  Fail(victim.id());
  controller_->MarkDirty({"web"});
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& m : EventMessages("web")) {
      if (m.find("next replacement in 1s") != std::string::npos) return true;
    }
    return false;
  }));
  EXPECT_EQ(Live(), 2) << "backing off";
  // Neither a notification nor the resync (an hour away): the recheck.
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(WaitFor([&] { return Live() == 3; }));
}

TEST_F(ServiceControllerLoopTest, StopJoinsAndLaterNotificationsAreHarmless) {
  Apply(1);
  Run(Resync(absl::Hours(1)), /*wired=*/false);
  ASSERT_TRUE(WaitFor([&] { return Live() == 1; }));
  controller_->Stop();
  controller_->MarkDirty({"web"});
  controller_->MarkAllDirty();
  controller_->Stop();
  EXPECT_EQ(Live(), 1);
}

}  // namespace
}  // namespace gantry::testing
