#include "common/endpoints.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gantry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EndpointsTest, ParsesAListAndNamesTheFlagInErrors) {
  auto e = Endpoints::Parse("a:1, b:2,a:1", "--controlplane");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->All(), ElementsAre("a:1", "b:2")) << "duplicates are dropped";
  EXPECT_EQ(e->Current(), "a:1");
  auto bad = Endpoints::Parse("a:1,b", "--server");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--server a:1,b: \"b\" is not HOST:PORT"));
  EXPECT_FALSE(Endpoints::Parse("a:0", "--server").ok());
  EXPECT_FALSE(Endpoints::Parse("", "--server").ok());
}

TEST(EndpointsTest, MovesOnFromAFailedOneAndToTheNamedLeader) {
  Endpoints e({"a:1", "b:2", "c:3"});
  e.MoveOnFrom("a:1");
  EXPECT_EQ(e.Current(), "b:2");
  e.MoveOnFrom("a:1");  // someone moved on already
  EXPECT_EQ(e.Current(), "b:2");
  e.MoveOnFrom("b:2");
  e.MoveOnFrom("c:3");
  EXPECT_EQ(e.Current(), "a:1") << "round and round";
  e.MoveTo("c:3");
  EXPECT_EQ(e.Current(), "c:3");
  e.MoveTo("d:4");  // a replica the client was not told about
  EXPECT_EQ(e.Current(), "d:4");
  EXPECT_EQ(e.ToString(), "a:1,b:2,c:3,d:4");
}

}  // namespace
}  // namespace gantry
