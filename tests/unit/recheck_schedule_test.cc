// RecheckSchedule: the earliest time per service, due ones taken once.

#include "controlplane/controllers/recheck_schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace gantry::controllers {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kT = absl::FromUnixSeconds(1'700'000'000);

TEST(RecheckScheduleTest, KeepsTheEarliestTimePerService) {
  RecheckSchedule s;
  EXPECT_FALSE(s.Earliest().has_value());
  s.At("web", kT + absl::Seconds(5));
  s.At("web", kT + absl::Seconds(9));
  s.At("api", kT + absl::Seconds(7));
  EXPECT_EQ(s.When("web"), kT + absl::Seconds(5));
  EXPECT_EQ(s.When("api"), kT + absl::Seconds(7));
  EXPECT_FALSE(s.When("db").has_value());
  EXPECT_EQ(s.Earliest(), kT + absl::Seconds(5));
  s.At("web", kT + absl::Seconds(1));
  EXPECT_EQ(s.When("web"), kT + absl::Seconds(1));
}

TEST(RecheckScheduleTest, DueServicesAreTakenOnce) {
  RecheckSchedule s;
  s.At("web", kT + absl::Seconds(5));
  s.At("api", kT + absl::Seconds(7));
  EXPECT_THAT(s.TakeDue(kT), IsEmpty());
  EXPECT_THAT(s.TakeDue(kT + absl::Seconds(5)), ElementsAre("web"));
  EXPECT_THAT(s.TakeDue(kT + absl::Seconds(6)), IsEmpty()) << "taken already";
  EXPECT_EQ(s.Earliest(), kT + absl::Seconds(7));
  EXPECT_THAT(s.TakeDue(kT + absl::Hours(1)), ElementsAre("api"));
  EXPECT_FALSE(s.Earliest().has_value());
}

TEST(RecheckScheduleTest, TellsItsOwnerOfEveryTimeAskedFor) {
  std::vector<absl::Time> told;
  RecheckSchedule s([&](absl::Time when) { told.push_back(when); });
  s.At("web", kT + absl::Seconds(5));
  s.At("web", kT + absl::Seconds(9));
  EXPECT_THAT(told, ElementsAre(kT + absl::Seconds(5), kT + absl::Seconds(9)));
}

}  // namespace
}  // namespace gantry::controllers
