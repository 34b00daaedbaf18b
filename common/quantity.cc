#include "common/quantity.h"

#include <cmath>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace gantry {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text, absl::string_view hint) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " \"", text, "\": ", hint));
}

}  // namespace

absl::StatusOr<int64_t> ParseCpu(absl::string_view text) {
  constexpr absl::string_view kHint = "use millicores like 250m or cores like 0.25";
  if (text.empty()) return Invalid("cpu", text, kHint);
  absl::string_view number = text;
  if (absl::ConsumeSuffix(&number, "m")) {
    int64_t milli = 0;
    if (!absl::SimpleAtoi(number, &milli) || milli < 0) return Invalid("cpu", text, kHint);
    return milli;
  }
  double cores = 0;
  if (!absl::SimpleAtod(number, &cores) || !std::isfinite(cores) || cores < 0 || cores > 1e6) {
    return Invalid("cpu", text, kHint);
  }
  double milli = cores * 1000.0;
  if (std::fabs(milli - std::round(milli)) > 1e-6) {
    return Invalid("cpu", text, "finer than one millicore (0.001)");
  }
  return static_cast<int64_t>(std::llround(milli));
}

absl::StatusOr<int64_t> ParseMemory(absl::string_view text) {
  constexpr absl::string_view kHint = "use a byte count with a suffix like 64Mi, 1Gi or 500M";
  struct Suffix {
    absl::string_view text;
    double factor;
  };
  static constexpr Suffix kSuffixes[] = {{"Ki", 1024.0},
                                         {"Mi", 1024.0 * 1024},
                                         {"Gi", 1024.0 * 1024 * 1024},
                                         {"Ti", 1024.0 * 1024 * 1024 * 1024},
                                         {"k", 1e3},
                                         {"K", 1e3},
                                         {"M", 1e6},
                                         {"G", 1e9},
                                         {"T", 1e12}};
  if (text.empty()) return Invalid("memory", text, kHint);
  absl::string_view number = text;
  double factor = 1;
  for (const auto& s : kSuffixes) {
    if (absl::ConsumeSuffix(&number, s.text)) {
      factor = s.factor;
      break;
    }
  }
  double value = 0;
  if (!absl::SimpleAtod(number, &value) || !std::isfinite(value) || value < 0) {
    return Invalid("memory", text, kHint);
  }
  double bytes = value * factor;
  if (bytes > static_cast<double>(std::numeric_limits<int64_t>::max() / 2)) {
    return Invalid("memory", text, "too large");
  }
  return static_cast<int64_t>(std::llround(bytes));
}

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text) {
  absl::Duration d;
  if (text.empty() || !absl::ParseDuration(text, &d) || d == absl::InfiniteDuration()) {
    return Invalid("duration", text, "use a duration like 30s, 1m30s or 500ms");
  }
  if (d < absl::ZeroDuration()) return Invalid("duration", text, "must not be negative");
  return d;
}

std::string FormatCpu(int64_t millicores) {
  if (millicores % 1000 == 0) return absl::StrCat(millicores / 1000);
  return absl::StrCat(millicores, "m");
}

std::string FormatMemory(int64_t bytes) {
  static constexpr std::pair<int64_t, absl::string_view> kUnits[] = {{int64_t{1} << 40, "Ti"},
                                                                     {int64_t{1} << 30, "Gi"},
                                                                     {int64_t{1} << 20, "Mi"},
                                                                     {int64_t{1} << 10, "Ki"}};
  for (const auto& [size, unit] : kUnits) {
    if (bytes >= size) {
      if (bytes % size == 0) return absl::StrCat(bytes / size, unit);
      double v = static_cast<double>(bytes) / static_cast<double>(size);
      return absl::StrCat(absl::StrFormat("%.1f", v), unit);
    }
  }
  return absl::StrCat(bytes);
}

std::string FormatDurationText(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace gantry
