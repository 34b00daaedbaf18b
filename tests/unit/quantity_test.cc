#include "common/quantity.h"

#include <gtest/gtest.h>

namespace gantry {
namespace {

TEST(ParseCpu, AcceptsMillicoresAndCores) {
  EXPECT_EQ(*ParseCpu("250m"), 250);
  EXPECT_EQ(*ParseCpu("0.25"), 250);
  EXPECT_EQ(*ParseCpu("2"), 2000);
  EXPECT_EQ(*ParseCpu("1.5"), 1500);
  EXPECT_EQ(*ParseCpu("0m"), 0);
}

TEST(ParseCpu, RejectsGarbageWithAHint) {
  for (const char* bad : {"", "m", "-1", "abc", "1.0001", "12x", "-5m"}) {
    auto r = ParseCpu(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("cpu"), std::string::npos) << r.status();
  }
}

TEST(ParseMemory, AcceptsBinaryAndDecimalSuffixes) {
  EXPECT_EQ(*ParseMemory("64Mi"), 64 << 20);
  EXPECT_EQ(*ParseMemory("1Gi"), int64_t{1} << 30);
  EXPECT_EQ(*ParseMemory("1.5Gi"), int64_t{3} << 29);
  EXPECT_EQ(*ParseMemory("500M"), 500'000'000);
  EXPECT_EQ(*ParseMemory("2k"), 2000);
  EXPECT_EQ(*ParseMemory("4096"), 4096);
}

TEST(ParseMemory, RejectsGarbage) {
  for (const char* bad : {"", "Mi", "-1Mi", "12Xi", "lots"}) {
    EXPECT_FALSE(ParseMemory(bad).ok()) << bad;
  }
}

TEST(ParseDuration, GoStyle) {
  EXPECT_EQ(*ParseDurationText("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDurationText("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseDurationText("500ms"), absl::Milliseconds(500));
  EXPECT_FALSE(ParseDurationText("-1s").ok());
  EXPECT_FALSE(ParseDurationText("soon").ok());
  EXPECT_FALSE(ParseDurationText("").ok());
}

TEST(Format, RoundTrips) {
  EXPECT_EQ(FormatCpu(250), "250m");
  EXPECT_EQ(FormatCpu(2000), "2");
  EXPECT_EQ(FormatMemory(64 << 20), "64Mi");
  EXPECT_EQ(FormatMemory(int64_t{3} << 29), "1.5Gi");
  EXPECT_EQ(FormatMemory(100), "100");
  EXPECT_EQ(*ParseMemory(FormatMemory(int64_t{7} << 30)), int64_t{7} << 30);
}

}  // namespace
}  // namespace gantry
