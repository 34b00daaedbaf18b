#pragma once

// Where each object lives in the state store. Every object is stored as its
// binary protobuf encoding under one key.

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gantry::state {

inline constexpr char kRoot[] = "/gantry/";
inline constexpr char kTaskDefPrefix[] = "/gantry/taskdefs/";
inline constexpr char kServicePrefix[] = "/gantry/services/";
inline constexpr char kNodePrefix[] = "/gantry/nodes/";
inline constexpr char kTaskPrefix[] = "/gantry/tasks/";
inline constexpr char kEventPrefix[] = "/gantry/events/";
// A node's task subnet is reserved here (value: the node's name), so two
// nodes registering at once cannot take the same one.
inline constexpr char kSubnetPrefix[] = "/gantry/subnets/";
inline constexpr char kNetworkAclPrefix[] = "/gantry/networkacls/";

// Revisions are zero-padded so keys sort in revision order.
inline std::string TaskDefKey(const std::string& family, int64_t revision) {
  return absl::StrFormat("%s%s/%010d", kTaskDefPrefix, family, revision);
}
inline std::string ServiceKey(const std::string& name) {
  return absl::StrCat(kServicePrefix, name);
}
inline std::string NodeKey(const std::string& name) { return absl::StrCat(kNodePrefix, name); }
inline std::string TaskKey(const std::string& id) { return absl::StrCat(kTaskPrefix, id); }
// "10.200.3.0/24" -> /gantry/subnets/10.200.3.0-24
inline std::string SubnetKey(std::string subnet) {
  for (char& c : subnet) {
    if (c == '/') c = '-';
  }
  return absl::StrCat(kSubnetPrefix, subnet);
}
inline std::string NetworkAclKey(const std::string& name) {
  return absl::StrCat(kNetworkAclPrefix, name);
}
inline std::string EventKey(int64_t id) { return absl::StrFormat("%s%016d", kEventPrefix, id); }

}  // namespace gantry::state
