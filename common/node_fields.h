#pragma once

// The rules for what a node says about itself: its name, zone, attributes
// and addresses. These values become store keys, certificate names,
// placement facts, metric labels and log lines, and a node's address ends
// up in HAProxy's configuration, so each is held to a small charset and
// length. The agent checks its own settings with these rules at start-up
// (agent/config.cc); the control plane checks every registration with them
// (controlplane/nodes/registration.h) before anything is written. One
// definition, so an agent never starts with a setting the control plane
// would refuse.
//
// Each check returns OK or InvalidArgument whose message starts with
// "must" and states the rule the value breaks, then why in parentheses. It
// names neither the field nor the value: the caller knows where the value
// came from ("--zone", `registration of node "n1": zone`) and prefixes that,
// quoting the value with QuoteForMessage().
//
// Pure and thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace gantry {

// At most this many attributes per node.
inline constexpr size_t kMaxNodeAttributes = 64;
// The capacity a node may report: 100,000 cores and 1 PiB, so a cluster's
// sums stay far from int64's range.
inline constexpr int64_t kMaxNodeCpu = int64_t{100000} * 1000;
inline constexpr int64_t kMaxNodeMemory = int64_t{1} << 50;

// A DNS label (as Kubernetes node names are): 1 to 63 of a-z, 0-9 and '-',
// not starting or ending with '-'.
absl::Status CheckNodeName(absl::string_view name);

// 1 to 63 of A-Z, a-z, 0-9, '.', '_' and '-' ("a", "us-east-1a").
absl::Status CheckZone(absl::string_view zone);

// Like a Kubernetes label key: NAME or PREFIX/NAME. NAME is 1 to 63 of A-Z,
// a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit;
// PREFIX is a DNS subdomain (lower-case DNS labels joined by '.', at most
// 253 characters). "disk", "example.com/rack".
absl::Status CheckAttributeKey(absl::string_view key);

// Like a Kubernetes label value: empty, or a NAME as above.
absl::Status CheckAttributeValue(absl::string_view value);

// At most kMaxNodeAttributes.
absl::Status CheckAttributeCount(size_t count);

// An IPv4 or IPv6 literal as inet_pton(3) reads it ("10.0.0.1",
// "fd00::1"): no host name, port, brackets, zone index or whitespace.
absl::Status CheckIpLiteral(absl::string_view address);

// HOST:PORT where something on the node is reached: HOST an IP literal (an
// IPv6 one may be in brackets) or a DNS host name, PORT 1 to 65535.
absl::Status CheckHostPort(absl::string_view address);

// A version string: at most 64 of A-Z, a-z, 0-9, '.', '_', '+', '~' and
// '-'; may be empty.
absl::Status CheckVersion(absl::string_view version);

// `text` in double quotes, C-escaped and cut to `max` characters (then
// "..."), fit for an error message or a log line whatever it holds.
std::string QuoteForMessage(absl::string_view text, size_t max = 80);

}  // namespace gantry
