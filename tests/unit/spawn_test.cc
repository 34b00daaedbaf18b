// Spawn and RunCapturing (common/spawn.h) with real programs.

#include "common/spawn.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <string>

namespace gantry {
namespace {

TEST(Spawn, CapturesOutputAndExitCode) {
  std::string output;
  auto rc = RunCapturing({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, output);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 3);
  EXPECT_EQ(output, "out\nerr\n");
}

TEST(Spawn, TheChildStartsWithDefaultSignals) {
  // Gantry's processes ignore SIGPIPE; what they start must not inherit it.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction before {};
  sigaction(SIGPIPE, &ignore, &before);
  std::string output;
  auto rc = RunCapturing({"/bin/grep", "SigIgn", "/proc/self/status"}, output);
  sigaction(SIGPIPE, &before, nullptr);
  ASSERT_TRUE(rc.ok()) << rc.status();
  // The mask is hexadecimal, bit N-1 for signal N (glibc keeps the
  // signals it reserves, 32 and 33, as they are).
  ASSERT_EQ(output.rfind("SigIgn:\t", 0), 0u) << output;
  const uint64_t ignored = std::stoull(output.substr(8), nullptr, 16);
  EXPECT_EQ(ignored & (uint64_t{1} << (SIGPIPE - 1)), 0u) << output;
  EXPECT_EQ(ignored & 0x7fffffffu, 0u) << "no standard signal is ignored: " << output;
}

TEST(Spawn, AMissingProgramIsAnError) {
  std::string output;
  auto rc = RunCapturing({"/nonexistent/haproxy", "-v"}, output);
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().message(), "start /nonexistent/haproxy: No such file or directory");
  EXPECT_FALSE(Spawn({}).ok());
}

TEST(Spawn, ReturnsThePidToWaitFor) {
  auto pid = Spawn({"/bin/sh", "-c", "exit 7"});
  ASSERT_TRUE(pid.ok()) << pid.status();
  int status = 0;
  ASSERT_EQ(waitpid(*pid, &status, 0), *pid);
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

}  // namespace
}  // namespace gantry
