// StormLimit, pure: when DOWN nodes are a storm, its budget per window,
// and its announcement.

#include "controlplane/nodes/storm_limit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gantry::nodes {
namespace {

using gantry::v1::Node;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

// `zones` lists each node's zone; the first `down` of them are DOWN.
std::vector<Node> Nodes(const std::vector<std::string>& zones, int down) {
  std::vector<Node> out;
  for (size_t i = 0; i < zones.size(); ++i) {
    Node n;
    n.set_name("n" + std::to_string(i));
    n.set_zone(zones[i]);
    n.set_status(static_cast<int>(i) < down ? Node::DOWN : Node::ACTIVE);
    out.push_back(n);
  }
  return out;
}

// How many tasks a pass may mark LOST, up to `want`.
int Spend(StormLimit& limit, int want) {
  int lost = 0;
  while (lost < want && limit.MayLose()) {
    limit.Lost();
    lost++;
  }
  return lost;
}

TEST(StormLimitTest, NoDownNodeIsNothing) {
  StormLimit limit({});
  EXPECT_EQ(limit.Begin(Nodes({"a", "b", "c"}, 0), kStart), 0);
  EXPECT_FALSE(limit.storm());
}

TEST(StormLimitTest, OneDownNodeIsNeverAStorm) {
  StormLimit limit({});
  EXPECT_EQ(limit.Begin(Nodes({"a", "b", "c"}, 1), kStart), 1);
  EXPECT_FALSE(limit.storm()) << "a third of the cluster, but one node";
  EXPECT_EQ(Spend(limit, 100), 100);
}

TEST(StormLimitTest, ALargeShareOfTheClusterIsAStormPacedPerWindow) {
  StormLimit limit({});
  const auto nodes = Nodes({"a", "b", "c", "d", "e", "f"}, 2);
  ASSERT_EQ(limit.Begin(nodes, kStart), 2);
  EXPECT_TRUE(limit.storm()) << "2 of 6 is above 30%";
  EXPECT_EQ(Spend(limit, 100), 10);
  limit.Begin(nodes, kStart + absl::Seconds(9));
  EXPECT_EQ(Spend(limit, 100), 0) << "the window has not passed";
  limit.Begin(nodes, kStart + absl::Seconds(10));
  EXPECT_EQ(Spend(limit, 4), 4);
  limit.Begin(nodes, kStart + absl::Seconds(12));
  EXPECT_EQ(Spend(limit, 100), 6) << "what is left of the window";
}

TEST(StormLimitTest, AMostlyDownZoneIsAStormInALargeCluster) {
  std::vector<std::string> zones = {"a", "a", "a", "a"};
  for (int i = 0; i < 16; ++i) zones.push_back("b");
  StormLimit limit({});
  limit.Begin(Nodes(zones, 3), kStart);
  EXPECT_TRUE(limit.storm()) << "3 of 20 is not, 3 of zone a's 4 is";
  EXPECT_EQ(limit.Deferred(),
            "3 of 4 nodes of zone a are DOWN at once: replacing their tasks at most 10 per 10s "
            "so a partition does not move the whole cluster");
}

TEST(StormLimitTest, ASmallZoneCountsOnlyAsPartOfTheCluster) {
  std::vector<std::string> zones = {"a", "a"};
  for (int i = 0; i < 8; ++i) zones.push_back("b");
  StormLimit limit({});
  limit.Begin(Nodes(zones, 2), kStart);
  EXPECT_FALSE(limit.storm()) << "zone a has fewer than 3 nodes, 2 of 10 is 20%";
}

TEST(StormLimitTest, EachStormIsAnnouncedOnce) {
  StormLimit limit({});
  const auto nodes = Nodes({"a", "b", "c", "d"}, 2);
  limit.Begin(nodes, kStart);
  EXPECT_EQ(limit.Deferred().substr(0, 11), "2 of 4 node");
  limit.Begin(nodes, kStart + absl::Seconds(30));
  EXPECT_EQ(limit.Deferred(), "") << "the same storm";
  limit.Begin(Nodes({"a", "b", "c", "d"}, 0), kStart + absl::Seconds(40));
  limit.Begin(nodes, kStart + absl::Seconds(50));
  EXPECT_FALSE(limit.Deferred().empty()) << "a new storm after a calm";
}

TEST(StormLimitTest, TheOptionsSetTheThresholdsAndPace) {
  StormLimit::Options options;
  options.fraction = 0.6;
  options.rate = 3;
  options.window = absl::Minutes(1);
  StormLimit limit(options);
  limit.Begin(Nodes({"a", "b", "c", "d", "e"}, 2), kStart);
  EXPECT_FALSE(limit.storm()) << "2 of 5 is below 60%";
  limit.Begin(Nodes({"a", "b", "c", "d", "e"}, 4), kStart);
  EXPECT_TRUE(limit.storm());
  EXPECT_EQ(Spend(limit, 100), 3);
  limit.Begin(Nodes({"a", "b", "c", "d", "e"}, 4), kStart + absl::Seconds(59));
  EXPECT_EQ(Spend(limit, 100), 0);
}

}  // namespace
}  // namespace gantry::nodes
