#include "common/node_fields.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/net_util.h"

namespace gantry {

namespace {

constexpr char kNodeNameRule[] =
    "must be a DNS label: 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-'";
constexpr char kZoneRule[] = "must be 1 to 63 of A-Z, a-z, 0-9, '.', '_' and '-'";
constexpr char kKeyRule[] =
    "must be NAME or PREFIX/NAME: NAME 1 to 63 of A-Z, a-z, 0-9, '.', '_' and '-', starting and "
    "ending with a letter or digit; PREFIX a DNS subdomain such as example.com";
constexpr char kValueRule[] =
    "must be empty or 1 to 63 of A-Z, a-z, 0-9, '.', '_' and '-', starting and ending with a "
    "letter or digit";
constexpr char kIpRule[] =
    "must be an IPv4 or IPv6 address such as 10.0.0.5 or fd00::5 (no host name, port or spaces)";
constexpr char kHostPortRule[] =
    "must be HOST:PORT with HOST an IP address or a DNS host name and PORT 1 to 65535";
constexpr char kVersionRule[] = "must be at most 64 of A-Z, a-z, 0-9, '.', '_', '+', '~' and '-'";

absl::Status Broken(absl::string_view rule, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(rule, " (", why, ")"));
}

std::string Holds(char c) {
  return absl::StrCat("it holds '", absl::CHexEscape(absl::string_view(&c, 1)), "'");
}

// The first character of `s` that `ok` refuses, as a reason; empty if none.
template <typename Ok>
std::string FirstRefused(absl::string_view s, Ok ok) {
  for (char c : s) {
    if (!ok(c)) return Holds(c);
  }
  return "";
}

bool NameChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-'; }
bool LabelChar(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-'; }

// Why `label` is no DNS label of `charset`; empty when it is one.
template <typename Ok>
std::string LabelProblem(absl::string_view label, Ok ok) {
  if (label.empty()) return "it has an empty label";
  if (label.size() > 63) return absl::StrCat("it has a label of ", label.size(), " characters");
  if (auto bad = FirstRefused(label, ok); !bad.empty()) return bad;
  if (label.front() == '-' || label.back() == '-') return "a label starts or ends with '-'";
  return "";
}

// Why `name` is no NAME (see CheckAttributeKey); empty when it is one.
std::string NameProblem(absl::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > 63) return absl::StrCat("it is ", name.size(), " characters long");
  if (auto bad = FirstRefused(name, NameChar); !bad.empty()) return bad;
  if (!absl::ascii_isalnum(name.front()) || !absl::ascii_isalnum(name.back())) {
    return "it starts or ends with something other than a letter or digit";
  }
  return "";
}

// Why `host` is neither an IP literal nor a DNS host name; empty if fine.
std::string HostProblem(absl::string_view host) {
  if (CheckIpLiteral(host).ok()) return "";
  if (host.empty()) return "the host is empty";
  if (host.size() > 253) return absl::StrCat("the host is ", host.size(), " characters long");
  auto host_char = [](char c) { return absl::ascii_isalnum(c) || c == '-'; };
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (auto why = LabelProblem(label, host_char); !why.empty()) return why;
  }
  return "";
}

}  // namespace

std::string QuoteForMessage(absl::string_view text, size_t max) {
  const bool cut = text.size() > max;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, max)), cut ? "..." : "", "\"");
}

absl::Status CheckNodeName(absl::string_view name) {
  if (name.empty()) return Broken(kNodeNameRule, "it is empty");
  if (name.size() > 63)
    return Broken(kNodeNameRule, absl::StrCat("it is ", name.size(), " characters long"));
  if (auto bad = FirstRefused(name, LabelChar); !bad.empty()) return Broken(kNodeNameRule, bad);
  if (name.front() == '-' || name.back() == '-') {
    return Broken(kNodeNameRule, "it starts or ends with '-'");
  }
  return absl::OkStatus();
}

absl::Status CheckZone(absl::string_view zone) {
  if (zone.empty()) return Broken(kZoneRule, "it is empty");
  if (zone.size() > 63) {
    return Broken(kZoneRule, absl::StrCat("it is ", zone.size(), " characters long"));
  }
  if (auto bad = FirstRefused(zone, NameChar); !bad.empty()) return Broken(kZoneRule, bad);
  return absl::OkStatus();
}

absl::Status CheckAttributeKey(absl::string_view key) {
  const size_t slash = key.find('/');
  absl::string_view name = key;
  if (slash != absl::string_view::npos) {
    const absl::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) return Broken(kKeyRule, "the prefix before '/' is empty");
    if (prefix.size() > 253) {
      return Broken(kKeyRule, absl::StrCat("the prefix is ", prefix.size(), " characters long"));
    }
    for (absl::string_view label : absl::StrSplit(prefix, '.')) {
      if (auto why = LabelProblem(label, LabelChar); !why.empty()) {
        return Broken(kKeyRule, absl::StrCat("in the prefix, ", why));
      }
    }
    if (name.find('/') != absl::string_view::npos) return Broken(kKeyRule, "it has two '/'");
  }
  if (auto why = NameProblem(name); !why.empty()) {
    return Broken(kKeyRule, slash == absl::string_view::npos ? why : absl::StrCat("NAME: ", why));
  }
  return absl::OkStatus();
}

absl::Status CheckAttributeValue(absl::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (auto why = NameProblem(value); !why.empty()) return Broken(kValueRule, why);
  return absl::OkStatus();
}

absl::Status CheckAttributeCount(size_t count) {
  if (count <= kMaxNodeAttributes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("must be at most ", kMaxNodeAttributes, " (there are ", count, ")"));
}

absl::Status CheckIpLiteral(absl::string_view address) {
  if (address.empty()) return Broken(kIpRule, "it is empty");
  // INET6_ADDRSTRLEN with room to spare; longer is no address.
  if (address.size() > 64) {
    return Broken(kIpRule, absl::StrCat("it is ", address.size(), " characters long"));
  }
  const std::string text(address);  // inet_pton reads up to a NUL
  if (text.find('\0') != std::string::npos) return Broken(kIpRule, Holds('\0'));
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return absl::OkStatus();
  }
  auto address_char = [](char c) { return absl::ascii_isxdigit(c) || c == '.' || c == ':'; };
  auto host_char = [](char c) { return absl::ascii_isalnum(c) || c == '.' || c == '-'; };
  if (!FirstRefused(address, address_char).empty()) {
    if (FirstRefused(address, host_char).empty()) {
      return Broken(kIpRule, "it looks like a host name");
    }
    return Broken(kIpRule,
                  FirstRefused(address, [&](char c) { return address_char(c) || host_char(c); }));
  }
  return Broken(kIpRule, "it is not a well-formed address");
}

absl::Status CheckHostPort(absl::string_view address) {
  if (address.size() > 300) {
    return Broken(kHostPortRule, absl::StrCat("it is ", address.size(), " characters long"));
  }
  // ParseHostPort forgives spaces around the port; this must not.
  if (auto bad = FirstRefused(address,
                              [](char c) {
                                return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == ':' ||
                                       c == '[' || c == ']';
                              });
      !bad.empty()) {
    return Broken(kHostPortRule, bad);
  }
  auto hp = ParseHostPort(address);
  if (!hp.ok() || absl::StartsWith(address, "unix:")) {
    return Broken(kHostPortRule, "it is not HOST:PORT");
  }
  if (hp->port == 0) return Broken(kHostPortRule, "the port is 0");
  if (auto why = HostProblem(hp->host); !why.empty()) return Broken(kHostPortRule, why);
  return absl::OkStatus();
}

absl::Status CheckVersion(absl::string_view version) {
  if (version.size() > 64) {
    return Broken(kVersionRule, absl::StrCat("it is ", version.size(), " characters long"));
  }
  auto ok = [](char c) { return NameChar(c) || c == '+' || c == '~'; };
  if (auto bad = FirstRefused(version, ok); !bad.empty()) return Broken(kVersionRule, bad);
  return absl::OkStatus();
}

}  // namespace gantry
