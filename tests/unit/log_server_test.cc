#include "agent/logs/log_server.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>

namespace gantry::agent {
namespace {

class LogServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gantry-logs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ / name) << data;
  }
  std::filesystem::path dir_;
};

TEST_F(LogServerTest, TailCountsLinesAcrossTheRotatedFile) {
  Write("c.log.1", "one\ntwo\n");
  Write("c.log", "three\nfour\n");
  int64_t offset = 0;
  const std::string path = (dir_ / "c.log").string();
  EXPECT_EQ(LogServer::ReadTail(path, 0, &offset), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(offset, 11);
  EXPECT_EQ(LogServer::ReadTail(path, 1, &offset), "four\n");
  EXPECT_EQ(LogServer::ReadTail(path, 3, &offset), "two\nthree\nfour\n");
  EXPECT_EQ(LogServer::ReadTail(path, 10, &offset), "one\ntwo\nthree\nfour\n");
}

TEST_F(LogServerTest, PartialLastLine) {
  Write("c.log", "a\nb\npartial");
  int64_t offset = 0;
  EXPECT_EQ(LogServer::ReadTail((dir_ / "c.log").string(), 2, &offset), "b\npartial");
}

TEST_F(LogServerTest, ATaskIdThatCouldNameAPathIsRefused) {
  std::filesystem::create_directories(dir_ / "elsewhere");
  Write("elsewhere/secret.log", "not for the control plane\n");
  std::promise<gantry::v1::LogData> answer;
  std::mutex mu;
  std::string sent;
  LogServer server([this](const std::string& id) { return (dir_ / "tasks" / id).string(); },
                   [](const std::string&) { return false; },
                   [&](const gantry::v1::LogData& d) {
                     std::lock_guard<std::mutex> lock(mu);
                     sent += d.data();
                     if (d.eof()) answer.set_value(d);
                   });
  gantry::v1::LogRequest req;
  req.set_request_id(1);
  req.set_task_id("../elsewhere");
  server.Open(req);
  auto done = answer.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(done.get().error(), "\"../elsewhere\" is not a task id");
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(sent, "");
}

}  // namespace
}  // namespace gantry::agent
