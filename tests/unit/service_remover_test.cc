// ServiceRemover: a deleted service's tasks stop, then its record goes;
// tasks without a service stop as orphans.

#include "controlplane/controllers/service_remover.h"

#include <gmock/gmock.h>

#include "tests/unit/controllers_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::Contains;

class ServiceRemoverTest : public ControllersFixture {
 protected:
  void Delete() {
    gantry::v1::DeleteServiceRequest del;
    del.set_name("web");
    ASSERT_TRUE(api_->DeleteService(del).ok());
  }
  controllers::ServiceRemover remover_{state_.get(), events_.get(), &stopper_, &failures_};
};

TEST_F(ServiceRemoverTest, StopsEveryTaskThenRemovesTheRecord) {
  Apply(2);
  Put(WebTask("t1", "a1"));
  Put(WebTask("t2", "b1", Task::PENDING));
  Delete();
  ASSERT_EQ(Web().status(), gantry::v1::Service::DELETING);
  ASSERT_TRUE(remover_.Remove(Web(), Tasks(true)).ok());
  for (const auto& t : Tasks(true)) {
    EXPECT_EQ(t.desired_status(), Task::STOPPED);
    EXPECT_EQ(t.stopped_reason(), "Service deleted");
  }
  ASSERT_TRUE(remover_.Remove(Web(), Tasks(true)).ok());
  EXPECT_TRUE(state_->GetService("web").has_value()) << "kept until its tasks have stopped";
  SetLastStatus("t1", Task::STOPPED);
  ASSERT_TRUE(remover_.Remove(Web(), Tasks(true)).ok());
  EXPECT_TRUE(state_->GetService("web").has_value()) << "t2 has not stopped yet";
  SetLastStatus("t2", Task::STOPPED);
  ASSERT_TRUE(remover_.Remove(Web(), Tasks(true)).ok());
  EXPECT_FALSE(state_->GetService("web").has_value());
  EXPECT_THAT(EventMessages("web"), Contains("service deleted: all its tasks have stopped"));
}

TEST_F(ServiceRemoverTest, LostTasksCountAsEnded) {
  Apply(1);
  Task lost = WebTask("t1", "a1", Task::LOST);
  lost.set_desired_status(Task::STOPPED);
  Put(lost);
  Delete();
  ASSERT_TRUE(remover_.Remove(Web(), Tasks(true)).ok());
  EXPECT_FALSE(state_->GetService("web").has_value());
}

TEST_F(ServiceRemoverTest, RemovingForgetsTheServicesLastFailure) {
  Apply(1);
  failures_.Record("web", "cannot place 1 task(s)");
  Delete();
  ASSERT_TRUE(remover_.Remove(Web(), {}).ok());
  failures_.Record("web", "cannot place 1 task(s)");
  int seen = 0;
  for (const auto& m : EventMessages("web")) seen += m == "cannot place 1 task(s)" ? 1 : 0;
  EXPECT_EQ(seen, 2) << "a service of the same name starts with a clean slate";
}

TEST_F(ServiceRemoverTest, StopsOrphans) {
  Put(WebTask("t1", "a1"));
  Task done = WebTask("t2", "b1", Task::STOPPED);
  done.set_desired_status(Task::STOPPED);
  done.set_stopped_reason("Scaled in to 1");
  Put(done);
  ASSERT_TRUE(remover_.StopOrphans(Tasks(true)).ok());
  EXPECT_EQ(Get("t1").desired_status(), Task::STOPPED);
  EXPECT_EQ(Get("t1").stopped_reason(), "Service no longer exists");
  EXPECT_EQ(Get("t2").stopped_reason(), "Scaled in to 1");
}

}  // namespace
}  // namespace gantry::testing
