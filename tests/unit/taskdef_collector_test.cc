// Old task definition revisions go once nothing may run them: the newest
// ten of a family stay, and so does every revision a service or a task
// names, however old.

#include "controlplane/controllers/taskdef_collector.h"

#include <gmock/gmock.h>

#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using ::testing::ElementsAre;

class TaskDefinitionCollectorTest : public ControlPlaneFixture {
 protected:
  void ApplyRevisions(int n) {
    for (int i = 0; i < n; ++i) {
      gantry::v1::ApplyRequest req;
      *req.add_task_definitions() = WebTd((32 + i) << 20);
      ASSERT_TRUE(api_->Apply(req).ok());
    }
  }

  std::vector<int64_t> Revisions() {
    std::vector<int64_t> out;
    for (const auto& td : state_->ListTaskDefinitions("web")) out.push_back(td.revision());
    return out;
  }
};

TEST_F(TaskDefinitionCollectorTest, KeepsTheNewestAndWhatServicesRun) {
  ApplyRevisions(15);
  gantry::v1::ApplyRequest req;
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web:2");
  s->set_desired_count(0);
  ASSERT_TRUE(api_->Apply(req).ok());

  controllers::TaskDefinitionCollector collector(state_.get());
  EXPECT_EQ(collector.Collect(), 4);
  EXPECT_THAT(Revisions(), ElementsAre(2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  EXPECT_EQ(collector.Collect(), 0) << "nothing more to forget";

  // The next revision still follows the newest.
  ApplyRevisions(1);
  EXPECT_EQ(state_->GetTaskDefinition("web", 0)->revision(), 16);
}

}  // namespace
}  // namespace gantry::testing
