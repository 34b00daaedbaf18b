// ZoneRebalancer: one task moves from the fullest to the emptiest zone,
// within maximumPercent and minimumHealthyPercent, and only when asked for.

#include "controlplane/controllers/zone_rebalancer.h"

#include <gmock/gmock.h>

#include <functional>

#include "controlplane/controllers/task_batch.h"
#include "tests/unit/controllers_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;

class ZoneRebalancerTest : public ControllersFixture {
 protected:
  // "web" with three tasks, two in zone a, one in zone c, none in b.
  void Uneven(const std::function<void(gantry::v1::Service&)>& configure = nullptr) {
    gantry::v1::ApplyRequest req;
    *req.add_task_definitions() = WebTd();
    auto* s = req.add_services();
    s->set_name("web");
    s->set_task_definition("web");
    s->set_desired_count(3);
    if (configure) configure(*s);
    auto applied = api_->Apply(req);
    ASSERT_TRUE(applied.ok()) << applied.status();
    Put(WebTask("t1", "a1"));
    Put(WebTask("t2", "a1"));
    Put(WebTask("t3", "c1"));
  }
  absl::Status Rebalance() {
    const auto service = Web();
    auto policy = scheduler::PlacementPolicy::FromProto(service.placement());
    EXPECT_TRUE(policy.ok());
    const auto td = state_->ResolveTaskDefinition("web:1");
    auto st = rebalancer_.Rebalance(service, *deployments::Primary(service), *td, *policy, Tasks(),
                                    batch_);
    EXPECT_TRUE(batch_.Flush().ok());
    return st;
  }
  std::map<std::string, int> LivePerZone() {
    std::map<std::string, int> out;
    for (const auto& t : Tasks()) {
      if (t.desired_status() == Task::RUNNING && t.evicted_reason().empty()) out[t.zone()]++;
    }
    return out;
  }

  controllers::ZoneRebalancer rebalancer_{state_.get(), events_.get(), &failures_, &stopper_};
  controllers::TaskBatch batch_{state_.get(), events_.get(), &clock_};
};

TEST_F(ZoneRebalancerTest, PlacesAReplacementInTheEmptiestZoneAndEvictsOne) {
  Uneven();
  ASSERT_TRUE(Rebalance().ok());
  EXPECT_EQ(LivePerZone(), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
  const Task moved = Get("t2");
  EXPECT_EQ(moved.desired_status(), Task::RUNNING) << "it leaves once the replacement is healthy";
  EXPECT_EQ(moved.evicted_reason(), "Zone rebalancing: a has 2 tasks, b has 0");
  EXPECT_THAT(EventMessages("web"),
              Contains("Zone rebalancing: a has 2 tasks, b has 0: moving task t2 to b"));
  // One move at a time: the evicted task is still live, so nothing more.
  ASSERT_TRUE(Rebalance().ok());
  EXPECT_EQ(Tasks().size(), 4u);
}

TEST_F(ZoneRebalancerTest, StopsFirstWhenMaximumPercentLeavesNoRoom) {
  Uneven([](gantry::v1::Service& s) {
    s.mutable_deployment_configuration()->set_maximum_percent(100);
    s.mutable_deployment_configuration()->set_minimum_healthy_percent(50);
  });
  ASSERT_TRUE(Rebalance().ok());
  const Task moved = Get("t2");
  EXPECT_EQ(moved.desired_status(), Task::STOPPED);
  EXPECT_EQ(moved.stopped_reason(), "Zone rebalancing: a has 2 tasks, b has 0");
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("to b (stopping it first)")));
  EXPECT_EQ(LivePerZone(), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
}

TEST_F(ZoneRebalancerTest, WaitsWhenTheLimitsLeaveNoRoomAtAll) {
  Uneven([](gantry::v1::Service& s) {
    // Valid, but 110% of 3 is still 3.
    s.mutable_deployment_configuration()->set_maximum_percent(110);
    s.mutable_deployment_configuration()->set_minimum_healthy_percent(100);
  });
  ASSERT_TRUE(Rebalance().ok());
  EXPECT_EQ(Tasks().size(), 3u);
  EXPECT_TRUE(Get("t2").evicted_reason().empty());
  EXPECT_THAT(EventMessages("web"),
              Contains("zone rebalancing waits: a has 2 tasks and b 0, but maximumPercent 110 and "
                       "minimumHealthyPercent 100 leave no room to move one"));
}

TEST_F(ZoneRebalancerTest, AReplacementThatCannotLandInTheEmptiestZoneMovesNothing) {
  Uneven();
  Task hog = WebTask("hog", "b1");
  hog.set_service("other");
  hog.mutable_resources()->set_memory(int64_t{8} << 30);
  Put(hog);
  ASSERT_TRUE(Rebalance().ok());
  EXPECT_EQ(Tasks().size(), 3u);
  EXPECT_TRUE(Get("t2").evicted_reason().empty());
  EXPECT_THAT(EventMessages("web"),
              Contains(HasSubstr("zone rebalancing: cannot place 1 task(s)")));
}

TEST_F(ZoneRebalancerTest, OnlyAZoneSpreadThatIsUnevenAsksForAMove) {
  Uneven([](gantry::v1::Service& s) { s.set_zone_rebalancing(false); });
  ASSERT_TRUE(Rebalance().ok());
  EXPECT_EQ(Tasks().size(), 3u) << "turned off";

  auto binpack = Web();
  auto* strategy = binpack.mutable_placement()->add_strategy();
  strategy->set_type("binpack");
  strategy->set_field("memory");
  binpack.clear_zone_rebalancing();
  auto policy = scheduler::PlacementPolicy::FromProto(binpack.placement());
  ASSERT_TRUE(policy.ok());
  ASSERT_TRUE(rebalancer_
                  .Rebalance(binpack, *deployments::Primary(binpack),
                             *state_->ResolveTaskDefinition("web:1"), *policy, Tasks(), batch_)
                  .ok());
  EXPECT_EQ(batch_.size(), 0u) << "binpack does not ask for even zones";
}

TEST_F(ZoneRebalancerTest, EvenZonesStayAsTheyAre) {
  Apply(3);
  Put(WebTask("t1", "a1"));
  Put(WebTask("t2", "b1"));
  Put(WebTask("t3", "c1"));
  const int64_t rev = store_->Revision();
  ASSERT_TRUE(Rebalance().ok());
  EXPECT_EQ(store_->Revision(), rev);
}

}  // namespace
}  // namespace gantry::testing
