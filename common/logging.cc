#include "common/logging.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace gantry {

absl::Status SetupLogging(const std::string& program, const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-level ", level, ": expected trace, debug, info, warn or error"));
  }
  auto logger = spdlog::stderr_color_mt(program);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::warn);
  return absl::OkStatus();
}

}  // namespace gantry
