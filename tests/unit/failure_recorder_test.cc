// FailureRecorder: the same message at most once per interval per service.

#include "controlplane/controllers/failure_recorder.h"

#include <gmock/gmock.h>

#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using ::testing::ElementsAre;

class FailureRecorderTest : public ControlPlaneFixture {
 protected:
  controllers::FailureRecorder failures_{events_.get(), &clock_, absl::Minutes(1)};
};

TEST_F(FailureRecorderTest, RepeatsAMessageOnlyAfterTheInterval) {
  failures_.Record("web", "cannot place 1 task(s)");
  failures_.Record("web", "cannot place 1 task(s)");
  clock_.Advance(absl::Seconds(59));
  failures_.Record("web", "cannot place 1 task(s)");
  EXPECT_EQ(EventMessages("web").size(), 1u);
  clock_.Advance(absl::Seconds(1));
  failures_.Record("web", "cannot place 1 task(s)");
  EXPECT_EQ(EventMessages("web").size(), 2u);
}

TEST_F(FailureRecorderTest, ANewMessageIsRecordedAtOnce) {
  failures_.Record("web", "first");
  failures_.Record("web", "second");
  failures_.Record("web", "first");
  EXPECT_EQ(EventMessages("web").size(), 3u) << "only the last message is held back";
}

TEST_F(FailureRecorderTest, ServicesAreApartAndForgetClears) {
  failures_.Record("web", "same");
  failures_.Record("api", "same");
  EXPECT_THAT(EventMessages("api"), ElementsAre("same"));
  failures_.Forget("web");
  failures_.Record("web", "same");
  EXPECT_EQ(EventMessages("web").size(), 2u);
  failures_.Record("api", "same");
  EXPECT_EQ(EventMessages("api").size(), 1u) << "forgetting web leaves api alone";
}

}  // namespace
}  // namespace gantry::testing
