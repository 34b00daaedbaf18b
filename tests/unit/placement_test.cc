#include "controlplane/scheduler/placement.h"

#include <gtest/gtest.h>

#include <map>

namespace gantry::scheduler {
namespace {

NodeInfo MakeNode(const std::string& name, const std::string& zone, int64_t cpu = 4000,
                  int64_t mem = int64_t{8} << 30) {
  NodeInfo n;
  n.name = name;
  n.zone = zone;
  n.cpu_capacity = cpu;
  n.memory_capacity = mem;
  n.port_range_start = 20000;
  n.port_range_end = 20010;
  return n;
}

PlacementRequest Request(int count, int64_t cpu = 100, int64_t mem = 32 << 20) {
  PlacementRequest r;
  r.service = "web";
  r.count = count;
  r.cpu = cpu;
  r.memory = mem;
  return r;
}

std::map<std::string, int> ByZone(const PlacementResult& r) {
  std::map<std::string, int> out;
  for (const auto& p : r.placed) out[p.zone]++;
  return out;
}

TEST(Place, SpreadsAcrossZonesThenNodes) {
  std::vector<NodeInfo> nodes = {MakeNode("a1", "a"), MakeNode("a2", "a"), MakeNode("b1", "b"),
                                 MakeNode("c1", "c")};
  auto r = Place(nodes, Request(6));
  ASSERT_EQ(r.placed.size(), 6u);
  EXPECT_EQ(r.unplaced, 0);
  EXPECT_EQ(ByZone(r), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  // Within zone a, one each.
  EXPECT_EQ(nodes[0].service_tasks, 1);
  EXPECT_EQ(nodes[1].service_tasks, 1);
}

TEST(Place, CountsExistingTasksWhenSpreading) {
  std::vector<NodeInfo> nodes = {MakeNode("a1", "a"), MakeNode("b1", "b"), MakeNode("c1", "c")};
  nodes[0].service_tasks = 2;
  auto r = Place(nodes, Request(4));
  EXPECT_EQ(ByZone(r), (std::map<std::string, int>{{"b", 2}, {"c", 2}}));
}

TEST(Place, SkipsNodesThatAreNotActiveOrFull) {
  std::vector<NodeInfo> nodes = {MakeNode("a1", "a"), MakeNode("b1", "b"), MakeNode("c1", "c"),
                                 MakeNode("d1", "d", 4000, 16 << 20)};
  nodes[0].status = gantry::v1::Node::DOWN;
  nodes[1].status = gantry::v1::Node::DRAINING;
  auto r = Place(nodes, Request(2));
  for (const auto& p : r.placed) EXPECT_EQ(p.node, "c1");
  EXPECT_EQ(r.unplaced, 0);
}

TEST(Place, ExplainsFailuresWithCountsPerReason) {
  std::vector<NodeInfo> nodes = {MakeNode("a1", "a", 4000, 64 << 20),
                                 MakeNode("a2", "a", 4000, 64 << 20), MakeNode("b1", "b", 50),
                                 MakeNode("c1", "c")};
  nodes[3].status = gantry::v1::Node::DOWN;
  auto req = Request(3, 100, 512 << 20);
  auto r = Place(nodes, req);
  EXPECT_TRUE(r.placed.empty());
  EXPECT_EQ(r.unplaced, 3);
  EXPECT_EQ(r.Explain(req, nodes.size()),
            "cannot place 3 task(s) of web (100m cpu, 512Mi memory): 4 nodes: 2 insufficient "
            "memory, 1 DOWN, 1 insufficient cpu");
  EXPECT_NE(r.Explain(req, 0).find("no nodes are registered"), std::string::npos);
}

TEST(Place, ResourcesAreConsumedWithinOneBatch) {
  std::vector<NodeInfo> nodes = {MakeNode("a1", "a", 250)};
  auto r = Place(nodes, Request(3, 100));
  EXPECT_EQ(r.placed.size(), 2u);
  EXPECT_EQ(r.unplaced, 1);
  EXPECT_EQ(nodes[0].cpu_allocated, 200);
}

TEST(Place, StaticPortsAreExclusivePerNode) {
  std::vector<NodeInfo> nodes = {MakeNode("a1", "a"), MakeNode("b1", "b")};
  auto req = Request(3);
  req.static_ports = {8080};
  auto r = Place(nodes, req);
  EXPECT_EQ(r.placed.size(), 2u);
  EXPECT_EQ(r.unplaced, 1);
  EXPECT_EQ(r.rejections.at("host port 8080 in use"), 2);
}

TEST(Place, DynamicPortsComeFromTheRangeAndAreUnique) {
  std::vector<NodeInfo> nodes = {MakeNode("a1", "a")};
  nodes[0].port_range_end = 20004;
  nodes[0].used_ports = {20000};
  auto req = Request(3);
  req.dynamic_ports = 2;
  auto r = Place(nodes, req);
  ASSERT_EQ(r.placed.size(), 2u);  // 4 free ports, 2 per task
  EXPECT_EQ(r.placed[0].dynamic_ports, (std::vector<uint32_t>{20001, 20002}));
  EXPECT_EQ(r.placed[1].dynamic_ports, (std::vector<uint32_t>{20003, 20004}));
  EXPECT_EQ(r.rejections.at("no free dynamic port"), 1);
}

TEST(ChooseTasksToStop, PendingFirstThenFromTheFullestZone) {
  std::vector<StopCandidate> c = {
      {"a1", "n1", "a", true}, {"a2", "n1", "a", true},  {"a3", "n2", "a", true},
      {"b1", "n3", "b", true}, {"c1", "n4", "c", false},
  };
  auto chosen = ChooseTasksToStop(c, 3);
  ASSERT_EQ(chosen.size(), 3u);
  EXPECT_EQ(chosen[0], "c1");  // not running
  // Zone a has 3: the node with 2 there loses one, then zone a again (2 vs 1).
  EXPECT_TRUE(chosen[1] == "a1" || chosen[1] == "a2");
  EXPECT_NE(chosen[2], "b1");
  EXPECT_EQ(ChooseTasksToStop(c, 10).size(), 5u);
}

}  // namespace
}  // namespace gantry::scheduler
