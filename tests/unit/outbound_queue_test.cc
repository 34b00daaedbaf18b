// OutboundQueue (agent/outbound_queue.h): control before bulk, bulk bounded.

#include "agent/outbound_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace gantry::agent {
namespace {

using gantry::v1::AgentMessage;

AgentMessage Log(size_t bytes) {
  AgentMessage m;
  m.mutable_log_data()->set_data(std::string(bytes, 'x'));
  return m;
}

AgentMessage Heartbeat() {
  AgentMessage m;
  m.mutable_heartbeat();
  return m;
}

TEST(OutboundQueue, HeartbeatsOvertakeQueuedLogData) {
  OutboundQueue q(1 << 20);
  q.Open();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q.Push(Log(1000)));
  ASSERT_TRUE(q.Push(Heartbeat()));
  auto first = q.Pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->has_heartbeat());
  EXPECT_TRUE(q.Pop()->has_log_data());
}

TEST(OutboundQueue, TheEndOfALogStreamFollowsItsDataAndNeverWaits) {
  OutboundQueue q(1000);
  q.Open();
  ASSERT_TRUE(q.Push(Log(1000)));
  AgentMessage eof;
  eof.mutable_log_data()->set_eof(true);
  ASSERT_TRUE(q.Push(eof)) << "no data: it does not wait for room";
  EXPECT_EQ(q.Pop()->log_data().data().size(), 1000u);
  EXPECT_TRUE(q.Pop()->log_data().eof());
}

TEST(OutboundQueue, BulkWaitsForRoomAndControlNever) {
  OutboundQueue q(3000);
  q.Open();
  ASSERT_TRUE(q.Push(Log(2000)));
  std::atomic<bool> pushed{false};
  std::thread sender([&] {
    EXPECT_TRUE(q.Push(Log(2000)));  // waits: 4000 > 3000
    pushed = true;
  });
  ASSERT_TRUE(q.Push(Heartbeat())) << "control never waits for bulk room";
  EXPECT_TRUE(q.Pop()->has_heartbeat());
  EXPECT_EQ(q.Pop()->log_data().data().size(), 2000u);  // makes room
  sender.join();
  EXPECT_TRUE(pushed);
  EXPECT_EQ(q.Pop()->log_data().data().size(), 2000u);
}

TEST(OutboundQueue, CloseWakesWaitersAndDropsWhatIsQueued) {
  OutboundQueue q(1000);
  EXPECT_FALSE(q.Push(Heartbeat())) << "closed until opened";
  q.Open();
  ASSERT_TRUE(q.Push(Log(1000)));
  std::thread sender([&] { EXPECT_FALSE(q.Push(Log(10))); });
  q.Close();
  sender.join();
  EXPECT_FALSE(q.Pop().has_value());
  q.Open();
  ASSERT_TRUE(q.Push(Heartbeat()));
  EXPECT_TRUE(q.Pop()->has_heartbeat()) << "nothing of the old stream is left";
}

}  // namespace
}  // namespace gantry::agent
