#include "agent/checks/node_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/fakes/fake_runtime.h"

namespace gantry::agent {
namespace {

using ::testing::HasSubstr;

CheckReadings Healthy() {
  CheckReadings r;
  r.memory_total = int64_t{16} << 30;
  r.memory_available = int64_t{8} << 30;
  r.pids = 300;
  r.pid_max = 32768;
  r.storage_path = "/var/lib/containerd";
  r.disk_total = int64_t{100} << 30;
  r.disk_free = int64_t{50} << 30;
  r.inodes_total = 1000000;
  r.inodes_free = 900000;
  return r;
}

TEST(NodeChecks, AHealthyNodePassesBoth) {
  auto checks = JudgeChecks(Healthy(), CheckThresholds());
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name(), "instance");
  EXPECT_TRUE(checks[0].passed());
  EXPECT_EQ(checks[1].name(), "storage");
  EXPECT_TRUE(checks[1].passed());
}

TEST(NodeChecks, InstanceThresholds) {
  CheckThresholds t;
  CheckReadings r = Healthy();
  r.memory_available = r.memory_total / 25;  // 4%
  auto checks = JudgeChecks(r, t);
  EXPECT_FALSE(checks[0].passed());
  EXPECT_THAT(checks[0].message(), HasSubstr("memory pressure"));
  EXPECT_THAT(checks[0].message(), HasSubstr("below 5%"));
  r = Healthy();
  r.pids = 30000;
  EXPECT_THAT(JudgeChecks(r, t)[0].message(), HasSubstr("PID pressure: 30000 of 32768"));
  r = Healthy();
  r.runtime_error = "containerd at /run/containerd/containerd.sock is not answering";
  EXPECT_FALSE(JudgeChecks(r, t)[0].passed());
  r = Healthy();
  r.data_dir_error = "data dir /var/lib/gantry/agent is not writable: Read-only file system";
  EXPECT_FALSE(JudgeChecks(r, t)[0].passed());
  EXPECT_TRUE(JudgeChecks(r, t)[1].passed()) << "storage is judged on its own";
  r = Healthy();
  r.network_error = "task networking: CNI plugin portmap not found in /usr/lib/cni";
  EXPECT_FALSE(JudgeChecks(r, t)[0].passed());
  EXPECT_THAT(JudgeChecks(r, t)[0].message(), HasSubstr("CNI plugin portmap not found"));
}

TEST(NodeChecks, StorageThresholds) {
  CheckThresholds t;
  CheckReadings r = Healthy();
  r.disk_free = r.disk_total / 20;  // 5%
  auto checks = JudgeChecks(r, t);
  EXPECT_FALSE(checks[1].passed());
  EXPECT_THAT(checks[1].message(), HasSubstr("/var/lib/containerd: 5Gi free (5%, below 10%)"));
  r = Healthy();
  r.inodes_free = 10000;
  EXPECT_THAT(JudgeChecks(r, t)[1].message(), HasSubstr("10000 inodes free"));
  r = Healthy();
  r.storage_error = "container storage /nope: No such file or directory";
  EXPECT_FALSE(JudgeChecks(r, t)[1].passed());
  // Thresholds are settings.
  t.min_disk_free = 0.01;
  r = Healthy();
  r.disk_free = r.disk_total / 20;
  EXPECT_TRUE(JudgeChecks(r, t)[1].passed());
}

TEST(NodeChecks, ReadsThisMachine) {
  FakeRuntime runtime;
  const auto dir = std::filesystem::temp_directory_path() / "gantry-checks-test";
  auto r = ReadChecks(&runtime, dir.string(), "/");
  EXPECT_TRUE(r.runtime_error.empty());
  EXPECT_GT(r.memory_total, 0);
  EXPECT_GT(r.pid_max, 0);
  EXPECT_TRUE(r.data_dir_error.empty()) << r.data_dir_error;
  EXPECT_GT(r.disk_total, 0);
  r = ReadChecks(&runtime, dir.string(), "/nonexistent-storage");
  EXPECT_FALSE(r.storage_error.empty());
  r = ReadChecks(&runtime, dir.string(), absl::UnavailableError("no answer"));
  EXPECT_EQ(r.storage_error, "no answer");
  EXPECT_FALSE(JudgeChecks(r, {})[1].passed());
  std::filesystem::remove_all(dir);
}

TEST(StorageLocator, AsksTheRuntimeUnlessConfigured) {
  FakeRuntime runtime;
  runtime.SetStorageRoot(std::string("/srv/ctr/snapshots"));
  EXPECT_EQ(*StorageLocator(&runtime, "/data").Path(), "/data");
  StorageLocator asked(&runtime, "");
  EXPECT_EQ(*asked.Path(), "/srv/ctr/snapshots");
  // A runtime that stops answering: the last place it named.
  runtime.SetDown(true);
  EXPECT_EQ(*asked.Path(), "/srv/ctr/snapshots");
  // One that never answered: an error that says what to do.
  StorageLocator never(&runtime, "");
  auto path = never.Path();
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.status().message().find("give the path with --container-storage"),
            std::string::npos);
}

}  // namespace
}  // namespace gantry::agent
