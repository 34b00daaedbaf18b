#pragma once

// A per-test work directory: TMPDIR/gantry-PREFIX-PID-TEST, empty. The
// test removes it in TearDown.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace gantry::testing {

inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  auto dir = std::filesystem::temp_directory_path() /
             ("gantry-" + prefix + "-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace gantry::testing
