// How `deploy --wait` combines the outcomes of a file's services
// (ctl/commands.h).

#include <gtest/gtest.h>

#include "ctl/commands.h"

namespace gantry::ctl {
namespace {

TEST(RolloutCodes, ATimeoutNeverHidesAFailure) {
  using C = Commands;
  EXPECT_EQ(C::WorstRollout(C::kRolloutTimedOut, C::kRolloutFailed), C::kRolloutFailed);
  EXPECT_EQ(C::WorstRollout(C::kRolloutFailed, C::kRolloutTimedOut), C::kRolloutFailed);
  EXPECT_EQ(C::WorstRollout(C::kRolloutTimedOut, C::kRolloutUnknown), C::kRolloutUnknown);
  EXPECT_EQ(C::WorstRollout(C::kRolloutSuperseded, C::kRolloutTimedOut), C::kRolloutTimedOut);
  EXPECT_EQ(C::WorstRollout(C::kRolloutCompleted, C::kRolloutSuperseded), C::kRolloutSuperseded);
  EXPECT_EQ(C::WorstRollout(C::kRolloutCompleted, C::kRolloutCompleted), C::kRolloutCompleted);
}

}  // namespace
}  // namespace gantry::ctl
