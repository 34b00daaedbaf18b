#pragma once

// IPv4 addresses and CIDR blocks, for task networking: the cluster's task
// CIDR, each node's task subnet, and the checks that keep them apart from
// node addresses. Pure.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry {

// "10.1.2.3" -> host-order address; nullopt for anything else.
std::optional<uint32_t> ParseIpv4(absl::string_view text);
std::string FormatIpv4(uint32_t address);

struct Ipv4Cidr {
  uint32_t base = 0;  // host order, host bits zero
  int prefix = 0;     // 0..32

  uint64_t size() const { return uint64_t{1} << (32 - prefix); }
  bool Contains(uint32_t address) const;
  bool Overlaps(const Ipv4Cidr& other) const;
  // The `index`th block of length `prefix` inside this one.
  Ipv4Cidr Block(int prefix, uint32_t index) const;
  // The n-th address of the block (1: the first host, the gateway).
  uint32_t Host(uint32_t n) const { return base + n; }
  std::string ToString() const;  // "10.200.3.0/24"
  bool operator==(const Ipv4Cidr&) const = default;
};

// "10.200.0.0/16"; InvalidArgument naming the problem (not an address, a
// prefix out of range, host bits set: "10.200.1.0/16 has host bits set;
// did you mean 10.200.0.0/16?").
absl::StatusOr<Ipv4Cidr> ParseIpv4Cidr(absl::string_view text);

}  // namespace gantry
