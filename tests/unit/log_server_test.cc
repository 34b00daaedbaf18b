#include "agent/logs/log_server.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace gantry::agent
