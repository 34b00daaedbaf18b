// SplitDesiredTasks and DesiredTasksAssembler (common/desired_parts.h).

#include "common/desired_parts.h"

#include <gtest/gtest.h>

#include <string>

namespace gantry {
namespace {

using gantry::v1::DesiredTasks;

DesiredTasks SetOf(int tasks, size_t payload, int64_t sequence = 7) {
  DesiredTasks d;
  d.set_sequence(sequence);
  d.set_epoch(3);
  d.add_routes()->set_subnet("10.200.1.0/24");
  for (int i = 0; i < tasks; ++i) {
    auto* a = d.add_tasks();
    a->set_task_id("t" + std::to_string(i));
    (*a->add_containers()->mutable_environment())["P"] = std::string(payload, 'x');
  }
  return d;
}

std::string Ids(const DesiredTasks& d) {
  std::string out;
  for (const auto& a : d.tasks()) out += a.task_id() + ",";
  return out;
}

TEST(DesiredParts, ASmallSetIsOnePartUnchanged) {
  const DesiredTasks whole = SetOf(3, 10);
  auto parts = SplitDesiredTasks(whole);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].SerializeAsString(), whole.SerializeAsString());
  DesiredTasksAssembler assembler;
  auto back = assembler.Add(parts[0]);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(Ids(*back), Ids(whole));
}

TEST(DesiredParts, ALargeSetGoesInBoundedPartsAndComesBackWhole) {
  const DesiredTasks whole = SetOf(100, 1000);
  auto parts = SplitDesiredTasks(whole, 10 * 1024);
  ASSERT_GT(parts.size(), 5u);
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_LE(parts[i].ByteSizeLong(), 10u * 1024) << i;
    EXPECT_EQ(parts[i].part(), static_cast<int>(i));
    EXPECT_EQ(parts[i].more(), i + 1 < parts.size());
    EXPECT_EQ(parts[i].sequence(), 7);
    EXPECT_EQ(parts[i].epoch(), 3);
    EXPECT_EQ(parts[i].routes_size(), i == 0 ? 1 : 0) << "routes travel once, in part 0";
  }
  DesiredTasksAssembler assembler;
  for (size_t i = 0; i + 1 < parts.size(); ++i) EXPECT_FALSE(assembler.Add(parts[i]));
  auto back = assembler.Add(parts.back());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(Ids(*back), Ids(whole));
  EXPECT_EQ(back->routes_size(), 1);
  EXPECT_FALSE(back->more());
  EXPECT_EQ(back->part(), 0);
}

TEST(DesiredParts, ATaskLargerThanAPartIsAPartOfItsOwn) {
  auto parts = SplitDesiredTasks(SetOf(3, 5000), 1024);
  ASSERT_EQ(parts.size(), 3u);
  for (const auto& p : parts) EXPECT_EQ(p.tasks_size(), 1);
}

TEST(DesiredParts, ANewSetSupersedesOneLeftIncomplete) {
  auto older = SplitDesiredTasks(SetOf(50, 1000, 7), 10 * 1024);
  auto newer = SplitDesiredTasks(SetOf(20, 1000, 9), 10 * 1024);
  DesiredTasksAssembler assembler;
  // The control plane dropped the rest of the older set from its queue.
  EXPECT_FALSE(assembler.Add(older[0]));
  std::optional<DesiredTasks> got;
  for (const auto& p : newer) got = assembler.Add(p);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->sequence(), 9);
  EXPECT_EQ(got->tasks_size(), 20);
}

TEST(DesiredParts, APartThatDoesNotFollowIsDroppedUntilTheNextStart) {
  auto parts = SplitDesiredTasks(SetOf(50, 1000), 10 * 1024);
  ASSERT_GE(parts.size(), 3u);
  DesiredTasksAssembler assembler;
  EXPECT_FALSE(assembler.Add(parts[0]));
  EXPECT_FALSE(assembler.Add(parts[2]));  // part 1 is missing
  for (size_t i = 3; i < parts.size(); ++i) EXPECT_FALSE(assembler.Add(parts[i]));
  // Nothing half-gathered survives into the next complete set.
  std::optional<DesiredTasks> got;
  for (const auto& p : parts) got = assembler.Add(p);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->tasks_size(), 50);
}

}  // namespace
}  // namespace gantry
