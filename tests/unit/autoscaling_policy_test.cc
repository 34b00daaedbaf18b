#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "controlplane/autoscaling/policy.h"
#include "controlplane/autoscaling/prometheus_client.h"
#include "tests/fakes/fake_http_server.h"

namespace gantry::autoscaling {
namespace {

using Steps = google::protobuf::RepeatedPtrField<gantry::v1::Autoscaling::Step>;

Steps MakeSteps(std::initializer_list<std::tuple<char, double, int>> list) {
  Steps out;
  for (const auto& [kind, bound, adjust] : list) {
    auto* s = out.Add();
    if (kind == '>') {
      s->set_above(bound);
    } else {
      s->set_below(bound);
    }
    s->set_adjust(adjust);
  }
  return out;
}

TEST(TargetTrackingTest, ScalesByTheRatioRoundedUp) {
  EXPECT_EQ(TargetTracking(2, 2, 300, 100), 6);
  EXPECT_EQ(TargetTracking(4, 4, 50, 100), 2);
  EXPECT_EQ(TargetTracking(3, 3, 150, 100), 5);  // 4.5 rounds up
  EXPECT_EQ(TargetTracking(10, 10, 1, 100), 1);
  EXPECT_EQ(TargetTracking(5, 5, 0, 100), 0);  // min/max clamp later
}

TEST(TargetTrackingTest, IgnoresChangesWithinTenPercent) {
  EXPECT_EQ(TargetTracking(10, 10, 109, 100), 10);
  EXPECT_EQ(TargetTracking(10, 10, 91, 100), 10);
  EXPECT_EQ(TargetTracking(10, 10, 110, 100), 10);  // exactly 10% is within
  EXPECT_EQ(TargetTracking(10, 10, 111, 100), 12);  // ceil(11.1)
  EXPECT_EQ(TargetTracking(10, 10, 89, 100), 9);    // ceil(8.9)
}

TEST(TargetTrackingTest, AServiceAtZeroScalesFromOne) {
  EXPECT_EQ(TargetTracking(0, 0, 250, 100), 3);
  EXPECT_EQ(TargetTracking(0, 0, 100, 100), 0);
}

TEST(TargetTrackingTest, ANonPositiveTargetChangesNothing) {
  EXPECT_EQ(TargetTracking(3, 3, 500, 0), 3);
}

TEST(TargetTrackingTest, OnTargetKeepsTheDesiredCountWhileTasksAreMissing) {
  // 10 desired, 7 running (3 cannot be placed): an on-target value keeps 10.
  EXPECT_EQ(TargetTracking(10, 7, 100, 100), 10);
  EXPECT_EQ(TargetTracking(10, 7, 105, 100), 10);
  // Off target, the running tasks are what the value was measured over.
  EXPECT_EQ(TargetTracking(10, 7, 200, 100), 14);
}

TEST(TargetTrackingTest, InfiniteAndHugeValuesAreBounded) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(TargetTracking(4, 4, inf, 100), 4);
  EXPECT_EQ(TargetTracking(4, 4, -inf, 100), 4);
  EXPECT_EQ(TargetTracking(4, 4, std::nan(""), 100), 4);
  EXPECT_EQ(TargetTracking(4, 4, 1e300, 100), kMaxRecommendation);
  EXPECT_EQ(TargetTracking(4, 4, 1e12, 1e-9), kMaxRecommendation);
  EXPECT_EQ(TargetTracking(4, 4, -50, 100), 0);
}

TEST(StepScalingTest, BoundsAreExclusive) {
  const auto steps = MakeSteps({{'>', 1000, 2}, {'>', 5000, 5}, {'<', 10, -1}});
  EXPECT_EQ(StepScaling(4, 1000, steps), 4);  // not above 1000
  EXPECT_EQ(StepScaling(4, 1000.5, steps), 6);
  EXPECT_EQ(StepScaling(4, 5000, steps), 6);
  EXPECT_EQ(StepScaling(4, 5001, steps), 9);  // the furthest passed bound wins
  EXPECT_EQ(StepScaling(4, 10, steps), 4);    // not below 10
  EXPECT_EQ(StepScaling(4, 9.9, steps), 3);
  EXPECT_EQ(StepScaling(4, 500, steps), 4);  // between: no step
}

TEST(StepScalingTest, DescribesTheStepThatApplies) {
  const auto steps = MakeSteps({{'>', 1000, 2}, {'>', 5000, 5}, {'<', 10, -1}});
  EXPECT_EQ(DescribeStep(ChosenStep(6000, steps)), "step above 5000: +5");
  EXPECT_EQ(DescribeStep(ChosenStep(2.5, steps)), "step below 10: -1");
  EXPECT_EQ(DescribeStep(ChosenStep(500, steps)), "no step applies");
}

TEST(StepScalingTest, TheLowestBelowBoundWinsForScaleIn) {
  const auto steps = MakeSteps({{'<', 50, -1}, {'<', 5, -3}});
  EXPECT_EQ(StepScaling(10, 40, steps), 9);
  EXPECT_EQ(StepScaling(10, 1, steps), 7);
}

TEST(StabilizerTest, HighestWithinTheWindow) {
  Stabilizer s;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  s.Add(t0, 8, absl::Seconds(60));
  s.Add(t0 + absl::Seconds(30), 5, absl::Seconds(60));
  s.Add(t0 + absl::Seconds(60), 3, absl::Seconds(60));
  EXPECT_EQ(s.Highest(t0 + absl::Seconds(60), absl::Seconds(60)), 8);
  EXPECT_EQ(s.Highest(t0 + absl::Seconds(61), absl::Seconds(60)), 5);
  EXPECT_EQ(s.Highest(t0 + absl::Seconds(91), absl::Seconds(60)), 3);
}

TEST(StabilizerTest, KeepsWindowsLongerThanAnHour) {
  Stabilizer s;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  const absl::Duration window = absl::Hours(6);
  s.Add(t0, 9, window);
  for (int i = 1; i <= 5 * 60; ++i) s.Add(t0 + absl::Minutes(i), 2, window);
  EXPECT_EQ(s.Highest(t0 + absl::Hours(5), window), 9);
  s.Add(t0 + absl::Hours(7), 2, window);
  EXPECT_EQ(s.Highest(t0 + absl::Hours(7), window), 2);
}

DecisionInput Base() {
  DecisionInput in;
  in.current = 4;
  in.min_count = 2;
  in.max_count = 10;
  in.now = absl::FromUnixSeconds(10000);
  in.scale_out_cooldown = absl::Seconds(30);
  in.scale_in_cooldown = absl::Seconds(300);
  return in;
}

TEST(DecideTest, ScalesOutWithinMax) {
  auto in = Base();
  in.recommendation = 7;
  in.window_highest = 7;
  auto d = Decide(in);
  EXPECT_TRUE(d.scale);
  EXPECT_EQ(d.desired, 7);
  in.recommendation = 50;
  d = Decide(in);
  EXPECT_EQ(d.desired, 10);
}

TEST(DecideTest, ScaleOutWaitsForItsCooldown) {
  auto in = Base();
  in.recommendation = 8;
  in.last_scale_out = in.now - absl::Seconds(29);
  auto d = Decide(in);
  EXPECT_FALSE(d.scale);
  EXPECT_NE(d.reason.find("scale-out cooldown"), std::string::npos) << d.reason;
  in.last_scale_out = in.now - absl::Seconds(30);
  EXPECT_TRUE(Decide(in).scale);
}

TEST(DecideTest, ScaleInUsesTheHighestRecommendationOfTheWindow) {
  auto in = Base();
  in.current = 8;
  in.recommendation = 2;
  in.window_highest = 5;
  auto d = Decide(in);
  EXPECT_TRUE(d.scale);
  EXPECT_EQ(d.desired, 5);
  in.window_highest = 8;
  d = Decide(in);
  EXPECT_FALSE(d.scale);
  EXPECT_NE(d.reason.find("scale-in window"), std::string::npos) << d.reason;
}

TEST(DecideTest, ScaleInNeverGoesBelowMin) {
  auto in = Base();
  in.recommendation = 0;
  in.window_highest = 0;
  auto d = Decide(in);
  EXPECT_TRUE(d.scale);
  EXPECT_EQ(d.desired, 2);
}

TEST(DecideTest, ScaleInWaitsForItsCooldownAfterAnyScaling) {
  auto in = Base();
  in.recommendation = 2;
  in.window_highest = 2;
  in.last_scale_out = in.now - absl::Seconds(299);
  EXPECT_FALSE(Decide(in).scale);
  in.last_scale_out = in.now - absl::Seconds(300);
  EXPECT_TRUE(Decide(in).scale);
  in.last_scale_in = in.now - absl::Seconds(100);
  EXPECT_FALSE(Decide(in).scale);
}

TEST(DecideTest, NoScaleInDuringADeploymentOrWhenDisabled) {
  auto in = Base();
  in.recommendation = 2;
  in.window_highest = 2;
  in.deployment_in_progress = true;
  auto d = Decide(in);
  EXPECT_FALSE(d.scale);
  EXPECT_NE(d.reason.find("deployment is in progress"), std::string::npos);
  in.deployment_in_progress = false;
  in.disable_scale_in = true;
  EXPECT_FALSE(Decide(in).scale);
  // Scale-out still happens during a deployment.
  in.disable_scale_in = false;
  in.deployment_in_progress = true;
  in.recommendation = 6;
  EXPECT_TRUE(Decide(in).scale);
}

TEST(DecideTest, ACountOutsideTheBoundsIsBroughtBackAtOnce) {
  auto in = Base();
  in.current = 1;
  in.recommendation = 1;
  in.last_scale_out = in.now;  // cooldowns do not hold this back
  auto d = Decide(in);
  EXPECT_TRUE(d.scale);
  EXPECT_EQ(d.desired, 2);
  in.current = 12;
  in.recommendation = 12;
  EXPECT_EQ(Decide(in).desired, 10);
}

TEST(DecideTest, SteadyWhenTheRecommendationIsTheCount) {
  auto in = Base();
  in.recommendation = 4;
  in.window_highest = 4;
  auto d = Decide(in);
  EXPECT_FALSE(d.scale);
  EXPECT_EQ(d.desired, 4);
}

TEST(ParseQueryResponseTest, Vector) {
  auto r = ParseQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"service":"web"},"value":[1700000000.1,"42.5"]}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->scalar);
  ASSERT_EQ(r->values.size(), 1u);
  EXPECT_DOUBLE_EQ(r->values[0], 42.5);
  EXPECT_DOUBLE_EQ(*SingleValue(*r), 42.5);
}

TEST(ParseQueryResponseTest, Scalar) {
  auto r = ParseQueryResponse(
      R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"7"]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->scalar);
  EXPECT_DOUBLE_EQ(*SingleValue(*r), 7);
}

TEST(ParseQueryResponseTest, EmptyVectorIsNoValue) {
  auto r = ParseQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->values.empty());
  EXPECT_TRUE(absl::IsNotFound(SingleValue(*r).status()));
}

TEST(ParseQueryResponseTest, SeveralSeriesAreNotOneValue) {
  auto r = ParseQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{},"value":[1,"1"]},{"metric":{},"value":[1,"2"]}]}})");
  ASSERT_TRUE(r.ok());
  auto v = SingleValue(*r);
  EXPECT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("2 series"), std::string::npos);
}

// Found by tests/fuzz/prometheus_fuzz: a field of the wrong type threw out
// of the parser and ended the control plane.
TEST(ParseQueryResponseTest, FieldsOfTheWrongTypeAreErrorsNotCrashes) {
  for (const char* body : {
           R"({"status":{"rett":[1699999999.1,"1"]}})",
           R"({"status":"error","errorType":7,"error":["x"]})",
           R"({"status":"success","data":{"resultType":3}})",
           R"({"status":"success","data":{"resultType":"scalar"}})",
           R"({"status":"success","data":{"resultType":"vector","result":{"a":1}}})",
           R"({"status":"success","data":{"resultType":"vector","result":[{"value":7}]}})",
       }) {
    EXPECT_FALSE(ParseQueryResponse(body).ok()) << body;
  }
}

TEST(ParseQueryResponseTest, ErrorsAreReported) {
  auto r = ParseQueryResponse(
      R"({"status":"error","errorType":"bad_data","error":"parse error at char 5"})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad_data: parse error at char 5"), std::string::npos);
}

TEST(ParseQueryResponseTest, MalformedAnswersAreErrors) {
  EXPECT_FALSE(ParseQueryResponse("").ok());
  EXPECT_FALSE(ParseQueryResponse("<html>502 Bad Gateway</html>").ok());
  EXPECT_FALSE(ParseQueryResponse(R"({"status":"success"})").ok());
  EXPECT_FALSE(ParseQueryResponse(R"({"status":"success","data":{"resultType":"vector"}})").ok());
  EXPECT_FALSE(ParseQueryResponse(
                   R"({"status":"success","data":{"resultType":"vector","result":[{"value":3}]}})")
                   .ok());
  EXPECT_FALSE(
      ParseQueryResponse(
          R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"abc"]}]}})")
          .ok());
  auto matrix =
      ParseQueryResponse(R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  ASSERT_FALSE(matrix.ok());
  EXPECT_NE(matrix.status().message().find("matrix"), std::string::npos);
}

TEST(ParseQueryResponseTest, NaNIsNotAValue) {
  auto r = ParseQueryResponse(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(SingleValue(*r).ok());
}

TEST(ParseQueryResponseTest, InfinityIsNotAValue) {
  for (const char* inf : {"+Inf", "-Inf"}) {
    auto r = ParseQueryResponse(absl::StrCat(
        R"({"status":"success","data":{"resultType":"scalar","result":[1,")", inf, R"("]}})"));
    ASSERT_TRUE(r.ok()) << r.status();
    auto v = SingleValue(*r);
    ASSERT_FALSE(v.ok()) << inf;
    EXPECT_NE(v.status().message().find(absl::StrCat("returned ", inf)), std::string::npos)
        << v.status();
  }
}

TEST(HttpPrometheusTest, QueriesTheHttpApi) {
  std::string seen;
  gantry::testing::FakeHttpServer server([&](const gantry::testing::HttpRequest& r) {
    seen = r.path;
    gantry::testing::HttpResponse resp;
    resp.body = R"({"status":"success","data":{"resultType":"vector","result":[
        {"metric":{},"value":[1,"12"]}]}})";
    return resp;
  });
  HttpPrometheus prometheus;
  auto r = prometheus.Query(absl::StrCat("http://", server.address()), "sum(up{job=\"a b\"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(*SingleValue(*r), 12);
  EXPECT_EQ(seen, "/api/v1/query?query=sum%28up%7Bjob%3D%22a%20b%22%7D%29");
}

TEST(HttpPrometheusTest, ErrorsSayWhatHappenedWithoutCredentials) {
  gantry::testing::FakeHttpServer server([](const gantry::testing::HttpRequest&) {
    gantry::testing::HttpResponse resp;
    resp.code = 400;
    resp.body = R"({"status":"error","errorType":"bad_data","error":"parse error"})";
    return resp;
  });
  HttpPrometheus prometheus;
  auto bad = prometheus.Query(absl::StrCat("http://", server.address()), "up{");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad_data: parse error (HTTP 400)"), std::string::npos)
      << bad.status();
  // Nothing listens on port 1.
  auto down = prometheus.Query("http://user:secret@127.0.0.1:1", "up");
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(absl::IsUnavailable(down.status()));
  EXPECT_EQ(down.status().message().find("secret"), std::string::npos) << down.status();
  EXPECT_NE(down.status().message().find("is Prometheus running there?"), std::string::npos)
      << down.status();
}

}  // namespace
}  // namespace gantry::autoscaling
