#include "controlplane/scheduler/placement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/placement/expression.h"
#include "common/placement/policy.h"

namespace gantry::scheduler {
namespace {

using ::testing::HasSubstr;

class PlaceTest : public ::testing::Test {
 protected:
  NodeRecord& Add(const std::string& name, const std::string& zone, int64_t cpu = 4000,
                  int64_t mem = int64_t{8} << 30, std::map<std::string, std::string> attrs = {}) {
    NodeRecord& n = table_.Upsert(name);
    n.zone = zone;
    n.status = gantry::v1::Node::ACTIVE;
    n.cpu_capacity = cpu;
    n.memory_capacity = mem;
    n.port_range_start = 20000;
    n.port_range_end = 20010;
    n.attributes = std::move(attrs);
    return n;
  }
  PlacementRequest Request(int count, int64_t cpu = 100, int64_t mem = 32 << 20) {
    PlacementRequest r;
    r.service = "web";
    r.count = count;
    r.cpu = cpu;
    r.memory = mem;
    r.policy = policy_ ? &*policy_ : nullptr;
    return r;
  }
  void Policy(const std::string& yaml_like_strategies,
              std::vector<std::pair<std::string, std::string>> constraints = {}) {
    gantry::v1::Placement p;
    for (const auto& part : absl::StrSplit(yaml_like_strategies, ',', absl::SkipEmpty())) {
      std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits(':', 1));
      auto* s = p.add_strategy();
      s->set_type(kv[0]);
      if (kv.size() > 1) s->set_field(kv[1]);
    }
    for (const auto& [type, expr] : constraints) {
      auto* c = p.add_constraints();
      c->set_type(type);
      c->set_expression(expr);
    }
    auto parsed = PlacementPolicy::FromProto(p);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    policy_ = std::move(*parsed);
  }
  PlacementResult Run(const PlacementRequest& r) { return Place(table_, load_, r, overlay_); }
  static std::map<std::string, int> By(const PlacementResult& r, bool zone) {
    std::map<std::string, int> out;
    for (const auto& p : r.placed) out[zone ? p.zone : p.node]++;
    return out;
  }

  NodeTable table_;
  ServiceLoad load_;
  Overlay overlay_;
  std::optional<PlacementPolicy> policy_;
};

TEST_F(PlaceTest, DefaultSpreadsAcrossZonesThenNodes) {
  Add("a1", "a");
  Add("a2", "a");
  Add("b1", "b");
  Add("c1", "c");
  auto r = Run(Request(6));
  ASSERT_EQ(r.placed.size(), 6u);
  EXPECT_EQ(By(r, true), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  EXPECT_EQ(By(r, false).at("a1"), 1);
  EXPECT_EQ(By(r, false).at("a2"), 1);
}

TEST_F(PlaceTest, CountsExistingAndBatchedTasks) {
  Add("a1", "a");
  Add("b1", "b");
  Add("c1", "c");
  load_[*table_.Find("a1")] = 2;
  auto r = Run(Request(4));
  EXPECT_EQ(By(r, true), (std::map<std::string, int>{{"b", 2}, {"c", 2}}));
  // The overlay carries the batch: the next call sees these four.
  r = Run(Request(3));
  EXPECT_EQ(By(r, true), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
}

TEST_F(PlaceTest, FiltersStatusAndFailingChecks) {
  Add("a1", "a").status = gantry::v1::Node::DOWN;
  Add("b1", "b").status = gantry::v1::Node::DRAINING;
  Add("c1", "c").unhealthy = "failing storage check: 2% disk free";
  Add("d1", "d");
  auto r = Run(Request(2));
  for (const auto& p : r.placed) EXPECT_EQ(p.node, "d1");
  table_.at(*table_.Find("d1")).status = gantry::v1::Node::DOWN;
  r = Run(Request(1));
  EXPECT_EQ(r.unplaced, 1);
  EXPECT_EQ(r.rejections.at("DOWN"), 2);
  EXPECT_EQ(r.rejections.at("DRAINING"), 1);
  EXPECT_EQ(r.rejections.at("failing storage check: 2% disk free"), 1);
}

TEST_F(PlaceTest, ExplainsFailuresWithCountsPerReason) {
  Add("a1", "a", 4000, 64 << 20);
  Add("a2", "a", 4000, 64 << 20);
  Add("b1", "b", 50);
  Add("c1", "c").status = gantry::v1::Node::DOWN;
  Add("d1", "d", 4000, int64_t{8} << 30, {{"disk", "hdd"}});
  Policy("", {{"memberOf", "attribute:disk == ssd or zone != d"}});
  auto req = Request(3, 100, 512 << 20);
  auto r = Run(req);
  EXPECT_TRUE(r.placed.empty());
  EXPECT_EQ(r.Explain(req, 5),
            "cannot place 3 task(s) of web (100m cpu, 512Mi memory): 5 nodes: 2 insufficient "
            "memory, 1 DOWN, 1 excluded by memberOf, 1 insufficient cpu");
  EXPECT_NE(r.Explain(req, 0).find("no nodes are registered"), std::string::npos);
}

TEST_F(PlaceTest, ResourcesAndPortsAreConsumedWithinABatch) {
  Add("a1", "a", 250);
  auto r = Run(Request(3, 100));
  EXPECT_EQ(r.placed.size(), 2u);
  EXPECT_EQ(r.unplaced, 1);
  EXPECT_EQ(overlay_.nodes.at(0).cpu, 200);
}

TEST_F(PlaceTest, StaticPortsAreExclusivePerNode) {
  Add("a1", "a");
  Add("b1", "b");
  auto req = Request(3);
  req.static_ports = {8080};
  auto r = Run(req);
  EXPECT_EQ(r.placed.size(), 2u);
  EXPECT_EQ(r.rejections.at("host port 8080 in use"), 2);
}

TEST_F(PlaceTest, DynamicPortsComeFromTheRangeAndAreUnique) {
  auto& n = Add("a1", "a");
  n.port_range_end = 20004;
  n.ports[20000] = 1;
  auto req = Request(3);
  req.dynamic_ports = 2;
  auto r = Run(req);
  ASSERT_EQ(r.placed.size(), 2u);
  EXPECT_EQ(r.placed[0].dynamic_ports, (std::vector<uint32_t>{20001, 20002}));
  EXPECT_EQ(r.placed[1].dynamic_ports, (std::vector<uint32_t>{20003, 20004}));
  EXPECT_EQ(r.rejections.at("no free dynamic port"), 1);
}

TEST_F(PlaceTest, BinpackFillsTheFullestNodeFirst) {
  Add("a1", "a", 4000, int64_t{4} << 30).memory_allocated = int64_t{3} << 30;
  Add("a2", "a", 4000, int64_t{4} << 30);
  Policy("binpack:memory");
  auto r = Run(Request(4, 100, 256 << 20));
  EXPECT_EQ(By(r, false), (std::map<std::string, int>{{"a1", 4}}));
  r = Run(Request(1, 100, 256 << 20));
  EXPECT_EQ(r.placed[0].node, "a2") << "a1 is full now";
  overlay_.Clear();
  Policy("binpack:cpu");
  table_.at(0).cpu_allocated = 3900;
  r = Run(Request(1, 100, 1 << 20));
  EXPECT_EQ(r.placed[0].node, "a1");
}

TEST_F(PlaceTest, BinpackPacksLargeZonesToo) {
  // More nodes than any sample: binpack still fills one node before the
  // next, and finds the fullest node wherever it is.
  for (int i = 0; i < 200; ++i) Add(absl::StrCat("a", 1000 + i), "a", 4000, int64_t{1} << 30);
  table_.at(150).memory_allocated = int64_t{512} << 20;
  Policy("binpack:memory");
  auto r = Run(Request(2, 100, 256 << 20));
  EXPECT_EQ(By(r, false), (std::map<std::string, int>{{"a1150", 2}}));
  r = Run(Request(12, 100, 256 << 20));
  EXPECT_EQ(By(r, false).size(), 3u) << "12 tasks of a quarter node fill 3 nodes";
  // Zones first, then binpack within each zone.
  overlay_.Clear();
  table_.at(150).memory_allocated = 0;
  for (int i = 0; i < 200; ++i) Add(absl::StrCat("b", 1000 + i), "b", 4000, int64_t{1} << 30);
  Policy("spread:zone,binpack:memory");
  r = Run(Request(16, 100, 256 << 20));
  EXPECT_EQ(By(r, false).size(), 4u) << "8 per zone fill 2 nodes in each";
}

TEST_F(PlaceTest, SpreadByAttributeThenBinpack) {
  Add("r1a", "a", 4000, int64_t{8} << 30, {{"rack", "r1"}});
  Add("r1b", "a", 4000, int64_t{8} << 30, {{"rack", "r1"}}).memory_allocated = int64_t{1} << 30;
  Add("r2a", "b", 4000, int64_t{8} << 30, {{"rack", "r2"}});
  Policy("spread:attribute:rack,binpack:memory");
  auto r = Run(Request(4));
  std::map<std::string, int> racks;
  for (const auto& p : r.placed) racks[p.node.substr(0, 2)]++;
  EXPECT_EQ(racks, (std::map<std::string, int>{{"r1", 2}, {"r2", 2}}));
  // Within rack r1, binpack prefers the fuller node.
  EXPECT_EQ(By(r, false).count("r1a"), 0u);
}

TEST_F(PlaceTest, SpreadByNodeAndRandom) {
  Add("n1", "a");
  Add("n2", "a");
  Add("n3", "a");
  Policy("spread:node");
  EXPECT_EQ(By(Run(Request(6)), false),
            (std::map<std::string, int>{{"n1", 2}, {"n2", 2}, {"n3", 2}}));
  overlay_.Clear();
  Policy("random");
  auto r = Run(Request(30));
  EXPECT_EQ(r.placed.size(), 30u);
  EXPECT_EQ(By(r, false).size(), 3u) << "random uses every node sooner or later";
}

TEST_F(PlaceTest, DistinctInstance) {
  Add("n1", "a");
  Add("n2", "b");
  Policy("", {{"distinctInstance", ""}});
  auto req = Request(3);
  auto r = Run(req);
  EXPECT_EQ(r.placed.size(), 2u);
  EXPECT_EQ(r.unplaced, 1);
  EXPECT_THAT(r.Explain(req, 2), HasSubstr("2 already running a task of web (distinctInstance)"));
}

TEST_F(PlaceTest, MemberOfRestrictsNodes) {
  Add("a1", "a", 4000, int64_t{8} << 30, {{"disk", "ssd"}});
  Add("b1", "b", 4000, int64_t{8} << 30, {{"disk", "ssd"}});
  Add("c1", "c", 4000, int64_t{8} << 30, {{"disk", "hdd"}});
  Policy("", {{"memberOf", "attribute:disk == ssd and zone in [a, c]"}});
  auto r = Run(Request(3));
  EXPECT_EQ(By(r, false), (std::map<std::string, int>{{"a1", 3}}));
}

TEST_F(PlaceTest, OnlyZoneForRebalancing) {
  Add("a1", "a");
  Add("b1", "b");
  auto req = Request(1);
  req.only_zone = "b";
  auto r = Run(req);
  ASSERT_EQ(r.placed.size(), 1u);
  EXPECT_EQ(r.placed[0].zone, "b");
}

TEST_F(PlaceTest, LargeClustersStayEvenAcrossZones) {
  for (int i = 0; i < 500; ++i) Add("n" + std::to_string(i), "z" + std::to_string(i % 5));
  auto r = Run(Request(1001));
  ASSERT_EQ(r.placed.size(), 1001u);
  auto zones = By(r, true);
  int lo = 1 << 30;
  int hi = 0;
  for (const auto& [z, n] : zones) {
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  EXPECT_LE(hi - lo, 1);
  // Nodes are spread too: nobody got more than a few.
  for (const auto& [node, n] : By(r, false)) EXPECT_LE(n, 4) << node;
}

TEST(Policy, RejectsBadStrategiesAndConstraints) {
  gantry::v1::Placement p;
  p.add_strategy()->set_type("pack");
  EXPECT_EQ(PlacementPolicy::FromProto(p).status().message(),
            "placement.strategy[0].type: expected spread, binpack or random, got \"pack\"");
  p.Clear();
  auto* s = p.add_strategy();
  s->set_type("binpack");
  s->set_field("disk");
  EXPECT_THAT(std::string(PlacementPolicy::FromProto(p).status().message()),
              HasSubstr("binpack takes cpu or memory"));
  p.Clear();
  auto* c = p.add_constraints();
  c->set_type("memberOf");
  c->set_expression("zone in [a, b");
  EXPECT_EQ(PlacementPolicy::FromProto(p).status().message(),
            "placement.constraints[0].expression: position 14: expected , or ] (found the end)");
  EXPECT_EQ(PlacementPolicy::Default().Describe(), "spread(zone), spread(node)");
}

TEST(Expression, Operators) {
  std::string name = "gpu-7";
  std::string zone = "b";
  std::map<std::string, std::string> attrs = {{"disk", "ssd"}, {"tier", "web"}};
  NodeFacts f{&name, &zone, &attrs};
  auto match = [&](const std::string& text) {
    auto e = Expression::Parse(text);
    EXPECT_TRUE(e.ok()) << text << ": " << e.status();
    return e.ok() && e->Matches(f);
  };
  EXPECT_TRUE(match("zone == b"));
  EXPECT_FALSE(match("zone != b"));
  EXPECT_TRUE(match("zone in [a, b]"));
  EXPECT_TRUE(match("zone not in [a, c]"));
  EXPECT_TRUE(match("node =~ \"gpu-*\""));
  EXPECT_FALSE(match("node =~ cpu-?"));
  EXPECT_TRUE(match("attribute:disk exists"));
  EXPECT_FALSE(match("attribute:gpu exists"));
  EXPECT_FALSE(match("attribute:gpu == yes"));
  EXPECT_TRUE(match("attribute:gpu != yes"));
  EXPECT_TRUE(match("attribute:disk == ssd and zone in [a, b]"));
  EXPECT_TRUE(match("zone == a or attribute:tier == web"));
  EXPECT_FALSE(match("not (zone == b)"));
  EXPECT_TRUE(match("not zone == a and not attribute:gpu exists"));
  EXPECT_FALSE(match("zone == a or zone == c and node == gpu-7"));  // and binds tighter
  EXPECT_TRUE(match("(zone == a or zone == b) and node == 'gpu-7'"));
}

TEST(Expression, ErrorsSayWhere) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const auto& c : std::vector<Case>{
           {"zone = a", "position 6: expected ==, != or =~"},
           {"zone ==", "position 8: expected a value (found the end)"},
           {"rack == a", "position 1: expected zone, node or attribute:KEY (found \"rack\")"},
           {"(zone == a", "position 11: expected ) (found the end)"},
           {"zone exists", "position 6: exists applies to attribute:KEY only (found \"exists\")"},
           {"zone == a b", "position 11: expected and, or or the end (found \"b\")"},
           {"zone not a", "position 10: expected in after not (found \"a\")"},
           {"node == \"x", "position 9: unterminated quoted string"},
       }) {
    auto e = Expression::Parse(c.text);
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_EQ(e.status().message(), c.error) << c.text;
  }
}

TEST(ChooseTasksToStop, PendingFirstThenFromTheFullestZone) {
  std::vector<StopCandidate> c = {
      {"a1", "n1", "a", true}, {"a2", "n1", "a", true},  {"a3", "n2", "a", true},
      {"b1", "n3", "b", true}, {"c1", "n4", "c", false},
  };
  auto chosen = ChooseTasksToStop(c, 3);
  ASSERT_EQ(chosen.size(), 3u);
  EXPECT_EQ(chosen[0], "c1");  // not running
  EXPECT_TRUE(chosen[1] == "a1" || chosen[1] == "a2") << "zone a, node n1 has the most";
  EXPECT_NE(chosen[2], "b1");
  EXPECT_EQ(ChooseTasksToStop(c, 10).size(), 5u);
}

TEST(PlanRebalance, MovesFromTheFullestToTheEmptiestZone) {
  EXPECT_FALSE(PlanRebalance({{"a", 2}, {"b", 2}, {"c", 2}}));
  EXPECT_FALSE(PlanRebalance({{"a", 3}, {"b", 2}, {"c", 2}})) << "a difference of one is even";
  auto m = PlanRebalance({{"a", 0}, {"b", 3}, {"c", 3}});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->from_zone, "b");
  EXPECT_EQ(m->to_zone, "a");
  EXPECT_FALSE(PlanRebalance({{"a", 5}}));
}

}  // namespace
}  // namespace gantry::scheduler
