#pragma once

// Fields of JSON that comes from the network (a registry's manifests, a
// Prometheus answer), read without exceptions: nlohmann's value() throws
// when a field holds another type than asked for, and const operator[] must
// not be asked for a missing key, so an odd answer would end the process.
// These answer the fallback instead, and the parser reports the problem.
// Header-only; pure.

#include <cstdint>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"

namespace gantry {

// The string at `key`, or `fallback` when `object` is not an object, has no
// such key, or holds something else there.
inline std::string JsonText(const nlohmann::json& object, const char* key,
                            const std::string& fallback = "") {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The integer at `key`, if there is one.
inline std::optional<int64_t> JsonInteger(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// The member at `key`, or null.
inline const nlohmann::json& JsonMember(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  auto it = object.find(key);
  return it != object.end() ? *it : kNull;
}

}  // namespace gantry
