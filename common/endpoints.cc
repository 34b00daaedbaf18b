#include "common/endpoints.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gantry {

absl::StatusOr<Endpoints> Endpoints::Parse(absl::string_view list, absl::string_view flag) {
  std::vector<std::string> all;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::string e(absl::StripAsciiWhitespace(part));
    const size_t colon = e.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(e.substr(colon + 1), &port) ||
        port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " ", list, ": \"", e, "\" is not HOST:PORT (give one or more, comma-separated)"));
    }
    if (std::find(all.begin(), all.end(), e) == all.end()) all.push_back(std::move(e));
  }
  return Endpoints(std::move(all));
}

Endpoints::Endpoints(std::vector<std::string> all) : all_(std::move(all)) {}

Endpoints::Endpoints(const Endpoints& other) {
  std::lock_guard<std::mutex> lock(other.mu_);
  all_ = other.all_;
  current_ = other.current_;
}

Endpoints& Endpoints::operator=(const Endpoints& other) {
  if (this == &other) return *this;
  std::scoped_lock lock(mu_, other.mu_);
  all_ = other.all_;
  current_ = other.current_;
  return *this;
}

std::string Endpoints::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_.empty() ? "" : all_[current_ % all_.size()];
}

void Endpoints::MoveOnFrom(const std::string& failed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (all_.empty() || all_[current_ % all_.size()] != failed) return;
  current_ = (current_ + 1) % all_.size();
}

void Endpoints::MoveTo(const std::string& leader) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find(all_.begin(), all_.end(), leader);
  if (it == all_.end()) it = all_.insert(all_.end(), leader);
  current_ = static_cast<size_t>(it - all_.begin());
}

std::vector<std::string> Endpoints::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_;
}

size_t Endpoints::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_.size();
}

std::string Endpoints::ToString() const {
  std::lock_guard<std::mutex> lock(mu_);
  return absl::StrJoin(all_, ",");
}

}  // namespace gantry
