// ImagePinner: digests pinned once per deployment, inline and in the
// background; an unreachable registry is waited for, a refusal is not.

#include "controlplane/controllers/image_pinner.h"

#include <gmock/gmock.h>

#include <condition_variable>
#include <mutex>

#include "tests/fakes/fake_resolver.h"
#include "tests/unit/controllers_fixture.h"

namespace gantry::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kDigest = "sha256:" + std::string(64, 'a');

class ImagePinnerTest : public ControllersFixture {
 protected:
  void SetUp() override {
    ControllersFixture::SetUp();
    resolver_.digests["example.org/demo/busybox:1"] = kDigest;
    service_ = Apply(2);
  }
  gantry::v1::Deployment& Primary() { return *deployments::Primary(service_); }
  absl::StatusOr<bool> Pin(controllers::ImagePinner& pinner) {
    return pinner.Pin(service_, Primary(), WebTd());
  }
  gantry::v1::Deployment Stored() { return Web().deployments(0); }

  FakeResolver resolver_;
  gantry::v1::Service service_;
  controllers::ImagePinner inline_{state_.get(), events_.get(), &clock_,
                                   &failures_,   &rechecks_,    &resolver_};
};

TEST_F(ImagePinnerTest, PinsEachContainerOncePerDeployment) {
  auto pinned = Pin(inline_);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_TRUE(*pinned);
  ASSERT_EQ(Stored().image_pins_size(), 1);
  EXPECT_EQ(Stored().image_pins(0).container(), "httpd");
  EXPECT_EQ(Stored().image_pins(0).image(), "example.org/demo/busybox:1");
  EXPECT_EQ(Stored().image_pins(0).digest(), kDigest);
  EXPECT_TRUE(Stored().images_pinned());
  EXPECT_TRUE(Primary().images_pinned()) << "the caller's copy too";
  EXPECT_EQ(Primary().image_pins(0).digest(), kDigest);
  EXPECT_THAT(EventMessages("web"),
              Contains("deployment d1 (web:1) runs pinned digests: httpd=" + kDigest));
  EXPECT_TRUE(*Pin(inline_));
  EXPECT_EQ(resolver_.calls, 1);
}

TEST_F(ImagePinnerTest, AContainerMayTurnPinningOff) {
  auto td = WebTd();
  td.mutable_containers(0)->set_pin_digest(false);
  EXPECT_TRUE(*inline_.Pin(service_, Primary(), td));
  EXPECT_EQ(resolver_.calls, 0);
  EXPECT_TRUE(Stored().images_pinned());
  EXPECT_EQ(Stored().image_pins_size(), 0);
}

TEST_F(ImagePinnerTest, WithoutAResolverImagesRunByTag) {
  controllers::ImagePinner none(state_.get(), events_.get(), &clock_, &failures_, &rechecks_,
                                nullptr);
  EXPECT_TRUE(*Pin(none));
  EXPECT_TRUE(Stored().images_pinned());
  EXPECT_EQ(Stored().image_pins_size(), 0);
}

TEST_F(ImagePinnerTest, AnUnreachableRegistryIsWaitedFor) {
  resolver_.failure = absl::UnavailableError("connection refused");
  EXPECT_FALSE(*Pin(inline_));
  EXPECT_FALSE(Stored().images_pinned());
  EXPECT_EQ(rechecks_.When("web"), clock_.Now() + absl::Seconds(5));
  EXPECT_THAT(EventMessages("web"),
              Contains("cannot pin the image of container httpd of web:1: connection refused; "
                       "retrying"));
  resolver_.failure = absl::DeadlineExceededError("timed out");
  EXPECT_FALSE(*Pin(inline_));
  resolver_.failure = absl::OkStatus();
  EXPECT_TRUE(*Pin(inline_));
  EXPECT_EQ(Stored().image_pins(0).digest(), kDigest);
}

TEST_F(ImagePinnerTest, ARefusalLeavesTheImageUnpinned) {
  resolver_.failure = absl::NotFoundError("manifest unknown");
  EXPECT_TRUE(*Pin(inline_));
  EXPECT_TRUE(Stored().images_pinned());
  EXPECT_EQ(Stored().image_pins_size(), 0);
  EXPECT_THAT(EventMessages("web"), Contains(HasSubstr("manifest unknown; its tasks use the "
                                                       "reference as written")));
  EXPECT_THAT(EventMessages("web"), Not(Contains(HasSubstr("runs pinned digests"))));
}

TEST_F(ImagePinnerTest, PinningForgetsTheLastFailure) {
  failures_.Record("web", "cannot place 2 task(s)");
  ASSERT_TRUE(*Pin(inline_));
  failures_.Record("web", "cannot place 2 task(s)");
  int seen = 0;
  for (const auto& m : EventMessages("web")) seen += m == "cannot place 2 task(s)" ? 1 : 0;
  EXPECT_EQ(seen, 2);
}

// The background resolver answers on its own thread and says so.
class Answers {
 public:
  void Add(const std::string& service) {
    std::lock_guard<std::mutex> lock(mu_);
    services_.push_back(service);
    cv_.notify_all();
  }
  bool Wait(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return services_.size() >= n; });
  }
  std::vector<std::string> services() {
    std::lock_guard<std::mutex> lock(mu_);
    return services_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> services_;
};

TEST_F(ImagePinnerTest, InTheBackgroundTheAnswerBringsTheServiceBack) {
  Answers answers;
  controllers::ImagePinner background(state_.get(), events_.get(), &clock_, &failures_, &rechecks_,
                                      &resolver_, [&](const std::string& s) { answers.Add(s); });
  EXPECT_FALSE(*Pin(background)) << "resolving";
  ASSERT_TRUE(answers.Wait(1));
  EXPECT_EQ(answers.services(), std::vector<std::string>{"web"});
  EXPECT_TRUE(*Pin(background));
  EXPECT_EQ(Stored().image_pins(0).digest(), kDigest);
  EXPECT_EQ(resolver_.calls, 1);
}

TEST_F(ImagePinnerTest, InTheBackgroundAnUnreachableRegistryIsAskedAgain) {
  resolver_.failure = absl::UnavailableError("connection refused");
  Answers answers;
  controllers::ImagePinner background(state_.get(), events_.get(), &clock_, &failures_, &rechecks_,
                                      &resolver_, [&](const std::string& s) { answers.Add(s); });
  EXPECT_FALSE(*Pin(background));
  ASSERT_TRUE(answers.Wait(1));
  EXPECT_FALSE(*Pin(background)) << "the answer was: unreachable";
  EXPECT_TRUE(rechecks_.When("web").has_value());
  resolver_.failure = absl::OkStatus();
  EXPECT_FALSE(*Pin(background)) << "asked again";
  ASSERT_TRUE(answers.Wait(2));
  EXPECT_TRUE(*Pin(background));
  EXPECT_EQ(resolver_.calls, 2);
}

}  // namespace
}  // namespace gantry::testing
