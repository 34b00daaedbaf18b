// The control plane's /metrics content and the Prometheus discovery
// documents, read from a state built through the API.

#include "controlplane/metrics/cp_metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http/server.h"
#include "controlplane/metrics/discovery.h"
#include "nlohmann/json.hpp"
#include "tests/unit/cp_fixture.h"

namespace gantry::testing {
namespace {

using gantry::v1::Task;
using ::testing::HasSubstr;
using ::testing::Not;

class CpMetricsTest : public ControlPlaneFixture {
 protected:
  void SetUp() override {
    Register("a1", "a");
    Register("b1", "b");
    controller_->SetMetrics(&metrics_);
  }
  void RunAll() {
    ASSERT_TRUE(controller_->Reconcile("web").ok());
    for (const auto& t : Tasks()) Report(t.node(), t.id(), Task::RUNNING);
  }
  metrics::ControlPlaneMetrics metrics_{state_.get()};
};

TEST_F(CpMetricsTest, CountsTasksNodesDeploymentsAndPlacements) {
  ASSERT_TRUE(ApplyWeb(3).ok());
  RunAll();
  metrics_.ApiRequest("Apply", "OK", absl::Milliseconds(3));
  metrics_.LoopPass("services", absl::Milliseconds(1));
  const std::string text = metrics_.Render();
  EXPECT_THAT(text,
              HasSubstr("gantry_tasks{health=\"UNKNOWN\",service=\"web\",state=\"RUNNING\"} 3"));
  EXPECT_THAT(text, HasSubstr("gantry_nodes{status=\"ACTIVE\",zone=\"a\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_nodes{status=\"ACTIVE\",zone=\"b\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_deployments{service=\"web\",state=\"IN_PROGRESS\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_service_desired_count{service=\"web\"} 3"));
  EXPECT_THAT(text, HasSubstr("gantry_placements_total{result=\"placed\"} 3"));
  EXPECT_THAT(text, HasSubstr("gantry_placement_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("gantry_api_requests_total{code=\"OK\",method=\"Apply\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr("gantry_api_request_duration_seconds_bucket{method=\"Apply\",le=\"0.005\"} 1"));
  EXPECT_THAT(text, HasSubstr("gantry_reconcile_duration_seconds_count{loop=\"services\"}"));
}

TEST_F(CpMetricsTest, UnplacedTasksAreCounted) {
  ASSERT_TRUE(ApplyWeb(1, int64_t{64} << 30).ok());  // fits no node
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  EXPECT_THAT(metrics_.Render(), HasSubstr("gantry_placements_total{result=\"unplaced\"} 1"));
}

TEST_F(CpMetricsTest, DiscoveryListsTasksWithAMetricsPortAndEveryAgent) {
  gantry::v1::ApplyRequest req;
  auto td = WebTd();
  td.mutable_containers(0)->mutable_metrics()->set_port("http");
  td.mutable_containers(0)->mutable_metrics()->set_path("/stats");
  *req.add_task_definitions() = td;
  auto* s = req.add_services();
  s->set_name("web");
  s->set_task_definition("web");
  s->set_desired_count(2);
  ASSERT_TRUE(api_->Apply(req).ok());
  ASSERT_TRUE(controller_->Reconcile("web").ok());
  // Pending tasks are not scraped yet.
  EXPECT_EQ(metrics::TaskTargets(*state_), "[]");
  for (const auto& t : Tasks()) Report(t.node(), t.id(), Task::RUNNING);

  auto groups = nlohmann::json::parse(metrics::TaskTargets(*state_));
  ASSERT_EQ(groups.size(), 2u);
  std::set<std::string> zones;
  for (const auto& g : groups) {
    const auto task = state_->GetTask(g["labels"]["task"].get<std::string>());
    ASSERT_TRUE(task.has_value());
    const auto& port = task->value.ports(0);
    EXPECT_EQ(g["targets"][0], absl::StrCat(port.host_address(), ":", port.host_port()));
    EXPECT_EQ(g["labels"]["service"], "web");
    EXPECT_EQ(g["labels"]["container"], "httpd");
    EXPECT_EQ(g["labels"]["node"], task->value.node());
    EXPECT_EQ(g["labels"]["__metrics_path__"], "/stats");
    zones.insert(g["labels"]["zone"].get<std::string>());
  }
  EXPECT_EQ(zones, (std::set<std::string>{"a", "b"}));

  // Agents that serve metrics are listed with their node and zone.
  EXPECT_EQ(metrics::AgentTargets(*state_), "[]");
  auto conn = std::make_shared<RecordingConnection>();
  gantry::v1::RegisterRequest r;
  r.set_node_name("c1");
  r.set_zone("c");
  r.set_address("10.0.0.9");
  r.set_metrics_address("10.0.0.9:7072");
  r.mutable_capacity()->set_cpu(1000);
  r.mutable_capacity()->set_memory(1 << 30);
  r.set_port_range_start(20000);
  r.set_port_range_end(20100);
  ASSERT_TRUE(nodes_->Register(conn, r).ok());
  auto agents = nlohmann::json::parse(metrics::AgentTargets(*state_));
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0]["targets"][0], "10.0.0.9:7072");
  EXPECT_EQ(agents[0]["labels"]["node"], "c1");
  EXPECT_EQ(agents[0]["labels"]["zone"], "c");
}

// The HTTP server answers GET with the handler's response and refuses
// other methods.
TEST(HttpServerTest, ServesTheHandlersAnswer) {
  auto server = http::HttpServer::Start("127.0.0.1:0", [](const std::string& path) {
    if (path == "/metrics") return http::Response{200, "text/plain", "up 1\n"};
    return http::Response{404, "text/plain", "no\n"};
  });
  ASSERT_TRUE(server.ok()) << server.status();
  auto request = [&](const std::string& text) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    std::string out;
    char buf[1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    close(fd);
    return out;
  };
  const std::string ok = request("GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(ok, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(ok, HasSubstr("Content-Length: 5"));
  EXPECT_THAT(ok, HasSubstr("\r\n\r\nup 1\n"));
  EXPECT_THAT(request("GET /other HTTP/1.1\r\n\r\n"), HasSubstr("404 Not Found"));
  EXPECT_THAT(request("POST /metrics HTTP/1.1\r\n\r\n"), HasSubstr("405"));
  EXPECT_THAT(request("HEAD /metrics HTTP/1.1\r\n\r\n"), Not(HasSubstr("up 1")));
}

// A client that resets its connection while a large answer is still being
// written ends that request only: the server (and this process) lives on
// and answers the next one.
TEST(HttpServerTest, AResetMidResponseEndsOnlyThatRequest) {
  const std::string big(8 << 20, 'x');  // far more than the socket buffers hold
  auto server = http::HttpServer::Start("127.0.0.1:0", [&](const std::string& path) {
    return http::Response{200, "text/plain", path == "/big" ? big : "up 1\n"};
  });
  ASSERT_TRUE(server.ok()) << server.status();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 20; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const std::string get = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
    char buf[512];
    ASSERT_GT(read(fd, buf, sizeof(buf)), 0);  // the answer has begun
    linger reset{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd);  // RST while the server is still writing
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_THAT(out, HasSubstr("\r\n\r\nup 1\n"));
}

TEST(HttpServerTest, ABusyPortIsAClearError) {
  auto first =
      http::HttpServer::Start("127.0.0.1:0", [](const std::string&) { return http::Response{}; });
  ASSERT_TRUE(first.ok());
  auto second = http::HttpServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()),
                                        [](const std::string&) { return http::Response{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("cannot listen on"));
}

}  // namespace
}  // namespace gantry::testing
