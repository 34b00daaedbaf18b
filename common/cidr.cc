#include "common/cidr.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gantry {

namespace {

uint32_t Mask(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

}  // namespace

std::optional<uint32_t> ParseIpv4(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return std::nullopt;
  uint32_t out = 0;
  for (absl::string_view p : parts) {
    uint32_t octet = 0;
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0') ||
        !absl::SimpleAtoi(p, &octet) || octet > 255) {
      return std::nullopt;
    }
    out = (out << 8) | octet;
  }
  return out;
}

std::string FormatIpv4(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 0xff, ".", (a >> 8) & 0xff, ".", a & 0xff);
}

bool Ipv4Cidr::Contains(uint32_t address) const { return (address & Mask(prefix)) == base; }

bool Ipv4Cidr::Overlaps(const Ipv4Cidr& other) const {
  const int shorter = std::min(prefix, other.prefix);
  return (base & Mask(shorter)) == (other.base & Mask(shorter));
}

Ipv4Cidr Ipv4Cidr::Block(int block_prefix, uint32_t index) const {
  return {base + (index << (32 - block_prefix)), block_prefix};
}

std::string Ipv4Cidr::ToString() const { return absl::StrCat(FormatIpv4(base), "/", prefix); }

absl::StatusOr<Ipv4Cidr> ParseIpv4Cidr(absl::string_view text) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a CIDR block (expected e.g. 10.200.0.0/16)"));
  }
  const auto address = ParseIpv4(text.substr(0, slash));
  int prefix = 0;
  if (!address) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": \"", text.substr(0, slash), "\" is not an IPv4 address"));
  }
  if (!absl::SimpleAtoi(text.substr(slash + 1), &prefix) || prefix < 0 || prefix > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": the prefix length must be 0..32"));
  }
  const Ipv4Cidr cidr{*address & Mask(prefix), prefix};
  if (cidr.base != *address) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" has host bits set; did you mean ", cidr.ToString(), "?"));
  }
  return cidr;
}

}  // namespace gantry
