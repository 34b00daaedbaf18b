// ReplacementBackoff: doubling waits after failures within the window, the
// cap, and one announcement per failure count.

#include "controlplane/controllers/replacement_backoff.h"

#include <gmock/gmock.h>

#include "common/time_util.h"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using controllers::ReplacementBackoff;
using gantry::v1::Task;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ReplacementBackoffTest : public ControlPlaneFixture {
 protected:
  ReplacementBackoffTest() {
    deployment_.set_id("d1");
    service_.set_name("web");
    service_.set_resolved_task_definition("web:1");
  }
  // A task of d1 that failed `ago`.
  Task Failed(const std::string& id, absl::Duration ago, const std::string& deployment = "d1") {
    Task t;
    t.set_id(id);
    t.set_node("n-" + id);
    t.set_deployment_id(deployment);
    t.set_failed(true);
    t.set_desired_status(Task::STOPPED);
    t.set_stopped_reason("Essential container httpd exited with code " + id);
    *t.mutable_stopped_at() = ToProtoTime(clock_.Now() - ago);
    return t;
  }

  ReplacementBackoff backoff_{
      events_.get(),
      &clock_,
      {.window = absl::Minutes(10), .base = absl::Seconds(1), .max = absl::Seconds(6)}};
  gantry::v1::Deployment deployment_;
  gantry::v1::Service service_;
};

TEST_F(ReplacementBackoffTest, NoFailuresNoBackoff) {
  Task fine = Failed("1", absl::ZeroDuration());
  fine.set_failed(false);
  const auto b = backoff_.Compute(deployment_, {fine}, clock_.Now());
  EXPECT_EQ(b.failures, 0);
  EXPECT_EQ(b.until, absl::InfinitePast());
}

TEST_F(ReplacementBackoffTest, WaitsDoubleFromTheLatestFailureUpToTheCap) {
  const absl::Time now = clock_.Now();
  std::vector<Task> tasks = {Failed("1", absl::Seconds(30))};
  EXPECT_EQ(backoff_.Compute(deployment_, tasks, now).until, now - absl::Seconds(29));
  tasks.push_back(Failed("2", absl::Seconds(1)));
  auto b = backoff_.Compute(deployment_, tasks, now);
  EXPECT_EQ(b.failures, 2);
  EXPECT_EQ(b.until, now + absl::Seconds(1)) << "2s after the latest";
  EXPECT_EQ(b.task, "2");
  EXPECT_EQ(b.node, "n-2");
  EXPECT_EQ(b.reason, "Essential container httpd exited with code 2");
  tasks.push_back(Failed("3", absl::Seconds(2)));
  EXPECT_EQ(backoff_.Compute(deployment_, tasks, now).until, now + absl::Seconds(3)) << "4s";
  tasks.push_back(Failed("4", absl::Seconds(2)));
  EXPECT_EQ(backoff_.Compute(deployment_, tasks, now).until, now + absl::Seconds(5)) << "capped";
}

TEST_F(ReplacementBackoffTest, OnlyRecentFailuresOfTheDeploymentCount) {
  const auto b = backoff_.Compute(
      deployment_, {Failed("1", absl::Minutes(11)), Failed("2", absl::Seconds(1), "d2")},
      clock_.Now());
  EXPECT_EQ(b.failures, 0);
  EXPECT_EQ(b.until, absl::InfinitePast());
}

TEST_F(ReplacementBackoffTest, AnnouncesEachFailureCountOnce) {
  std::vector<Task> tasks = {Failed("1", absl::ZeroDuration())};
  EXPECT_EQ(backoff_.Until(service_, deployment_, tasks), clock_.Now() + absl::Seconds(1));
  EXPECT_EQ(backoff_.Until(service_, deployment_, tasks), clock_.Now() + absl::Seconds(1));
  EXPECT_THAT(EventMessages("web"),
              ElementsAre("1 task(s) of web:1 failed in the last 10m (latest: Essential container "
                          "httpd exited with code 1); next replacement in 1s"));
  clock_.Advance(absl::Milliseconds(500));
  tasks.push_back(Failed("2", absl::ZeroDuration()));
  backoff_.Until(service_, deployment_, tasks);
  EXPECT_EQ(EventMessages("web").size(), 2u);
  EXPECT_EQ(events_->List("web", 10).back().task(), "2");
}

TEST_F(ReplacementBackoffTest, APassedBackoffIsNotAnnounced) {
  backoff_.Until(service_, deployment_, {Failed("1", absl::Seconds(2))});
  EXPECT_THAT(EventMessages("web"), IsEmpty());
}

TEST_F(ReplacementBackoffTest, WithoutFailuresTheAnnouncementIsForgotten) {
  const std::vector<Task> tasks = {Failed("1", absl::ZeroDuration())};
  backoff_.Until(service_, deployment_, tasks);
  backoff_.Until(service_, deployment_, {});
  backoff_.Until(service_, deployment_, tasks);
  EXPECT_EQ(EventMessages("web").size(), 2u) << "the same count again, after a clean pass";
  // Compute alone announces nothing.
  backoff_.Compute(deployment_,
                   {Failed("1", absl::ZeroDuration()), Failed("2", absl::ZeroDuration())},
                   clock_.Now());
  EXPECT_EQ(EventMessages("web").size(), 2u);
}

}  // namespace
}  // namespace gantry::testing
