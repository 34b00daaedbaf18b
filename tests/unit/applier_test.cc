// The pure parts of apply: validating a request before any read, and how a
// service's new settings merge over the stored record.

#include "controlplane/api/applier.h"

#include <gmock/gmock.h>

namespace gantry::api {
namespace {

using gantry::v1::Service;
using ::testing::HasSubstr;

Service Web(int count) {
  Service s;
  s.set_name("web");
  s.set_task_definition("web");
  s.set_desired_count(count);
  return s;
}

TEST(ValidateApplyTest, ANameTwiceIsAnError) {
  gantry::v1::ApplyRequest request;
  *request.add_services() = Web(1);
  *request.add_services() = Web(2);
  const auto st = ValidateApply(request);
  EXPECT_THAT(st.message(), HasSubstr("Service web: defined twice in one apply"));
}

TEST(ValidateApplyTest, AnInvalidServiceNamesItsField) {
  gantry::v1::ApplyRequest request;
  *request.add_services() = Web(-1);
  EXPECT_THAT(ValidateApply(request).message(),
              HasSubstr("Service web: desiredCount: must be >= 0"));
}

TEST(MergeServiceTest, TakesTheNewSettingsAndKeepsWhatApplyDoesNotOwn) {
  Service stored = Web(3);
  stored.set_running_count(3);
  stored.add_deployments()->set_id("d1");
  Service in = Web(5);
  in.mutable_placement()->add_strategy()->set_type("spread");
  const Service merged = MergeService(stored, in, "web:2");
  EXPECT_EQ(merged.desired_count(), 5);
  EXPECT_EQ(merged.resolved_task_definition(), "web:2");
  EXPECT_EQ(merged.placement().strategy_size(), 1);
  EXPECT_EQ(merged.status(), Service::ACTIVE);
  EXPECT_EQ(merged.running_count(), 0);     // observed counts are not apply's
  ASSERT_EQ(merged.deployments_size(), 1);  // deployments stay
  EXPECT_FALSE(merged.has_load_balancer());
}

TEST(MergeServiceTest, TheAutoscalersCountSurvivesWithinTheNewBounds) {
  Service stored = Web(7);
  stored.mutable_autoscaling()->set_min_count(1);
  stored.mutable_autoscaling()->set_max_count(10);
  Service in = Web(2);
  in.mutable_autoscaling()->set_min_count(1);
  in.mutable_autoscaling()->set_max_count(5);
  EXPECT_EQ(MergeService(stored, in, "web:1").desired_count(), 5);  // 7 clamped to 5
  in.mutable_autoscaling()->set_max_count(8);
  EXPECT_EQ(MergeService(stored, in, "web:1").desired_count(), 7);
  // A service new to autoscaling starts at its desiredCount within bounds.
  EXPECT_EQ(MergeService(Web(0), in, "web:1").desired_count(), 2);
}

TEST(MergeServiceTest, DroppingAutoscalingDropsItsStatus) {
  Service stored = Web(4);
  stored.mutable_autoscaling()->set_max_count(10);
  stored.mutable_autoscaling_status()->set_last_decision("steady");
  const Service merged = MergeService(stored, Web(4), "web:1");
  EXPECT_FALSE(merged.has_autoscaling());
  EXPECT_FALSE(merged.has_autoscaling_status());
}

}  // namespace
}  // namespace gantry::api
