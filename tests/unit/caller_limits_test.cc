// CallerLimits (controlplane/api/caller_limits.h) on a fake clock.

#include "controlplane/api/caller_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"

namespace gantry::api {
namespace {

using ::testing::HasSubstr;

identity::Identity Token(const std::string& accessor, const std::string& name = "ci") {
  identity::Identity who;
  who.kind = identity::Identity::Kind::kOperatorToken;
  who.name = name;
  who.accessor = accessor;
  who.role = "deployer";
  return who;
}

TEST(CallerLimits, ABurstThenTheRateAndEachCallerHasItsOwn) {
  FakeClock clock;
  CallerLimits limits(&clock, {.requests_per_second = 10, .burst = 20, .streams = 2});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(limits.Admit(Token("a")).ok()) << i;
  const absl::Status refused = limits.Admit(Token("a"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("made more than 10 requests a second (burst 20), the control plane's "
                        "limit per caller (--api-rate-limit); retry in 0.1s"));
  // Another token, even with the same description, is another caller.
  EXPECT_TRUE(limits.Admit(Token("b")).ok());
  // The bucket refills at the rate.
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(limits.Admit(Token("a")).ok());
  EXPECT_FALSE(limits.Admit(Token("a")).ok());
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(limits.Admit(Token("a")).ok()) << "never above burst";
  EXPECT_FALSE(limits.Admit(Token("a")).ok());
}

TEST(CallerLimits, StreamsAreHeldUntilReleased) {
  FakeClock clock;
  CallerLimits limits(&clock, {.requests_per_second = 10, .burst = 20, .streams = 2});
  auto one = limits.OpenStream(Token("a"));
  auto two = limits.OpenStream(Token("a"));
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(two.ok());
  auto three = limits.OpenStream(Token("a"));
  ASSERT_FALSE(three.ok());
  EXPECT_THAT(std::string(three.status().message()),
              HasSubstr("already holds 2 streams (logs, snapshots)"));
  EXPECT_TRUE(limits.OpenStream(Token("b")).ok());
  one->reset();  // the stream ended
  EXPECT_TRUE(limits.OpenStream(Token("a")).ok());
}

TEST(CallerLimits, ZeroTurnsALimitOff) {
  FakeClock clock;
  CallerLimits limits(&clock, {.requests_per_second = 0, .burst = 1, .streams = 0});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limits.Admit(Token("a")).ok());
  std::vector<CallerLimits::StreamSlot> held;
  for (int i = 0; i < 100; ++i) held.push_back(*limits.OpenStream(Token("a")));
}

}  // namespace
}  // namespace gantry::api
