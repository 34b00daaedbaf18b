#include "common/registry/registry_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/registry/registry_tls.h"
#include "common/tls.h"

namespace gantry::registry {

absl::Status ParseRegistries(const YAML::Node& node, const std::string& source,
                             RegistryConfig& config) {
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": registries: expected a mapping of registry host to settings"));
  }
  for (const auto& entry : node) {
    const std::string host = entry.first.as<std::string>();
    const std::string where = absl::StrCat(source, ": registries.", host);
    RegistryHostConfig h;
    if (!entry.second.IsNull()) {
      if (!entry.second.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected a mapping"));
      }
      for (const auto& kv : entry.second) {
        const std::string key = kv.first.as<std::string>();
        const std::string value = kv.second.IsScalar() ? kv.second.Scalar() : "";
        if (key == "insecure") {
          const std::string v = absl::AsciiStrToLower(value);
          if (v != "true" && v != "false") {
            return absl::InvalidArgumentError(
                absl::StrCat(where, ".insecure: expected true or false"));
          }
          h.insecure = v == "true";
        } else if (key == "username") {
          h.username = value;
        } else if (key == "password") {
          h.password = value;
        } else if (key == "passwordFile") {
          auto secret = ReadFileForFlag(value, absl::StrCat(where, ".passwordFile"));
          if (!secret.ok()) return secret.status();
          h.password = std::string(absl::StripTrailingAsciiWhitespace(*secret));
        } else if (key == "caFile") {
          auto pem = ReadFileForFlag(value, absl::StrCat(where, ".caFile"));
          if (!pem.ok()) return pem.status();
          if (auto st = CheckCaBundle(*pem); !st.ok()) {
            return absl::InvalidArgumentError(
                absl::StrCat(where, ".caFile: ", value, " ", st.message()));
          }
          h.ca_pem = *std::move(pem);
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": unknown setting \"", key,
                           "\" (expected insecure, username, password, passwordFile or caFile)"));
        }
      }
    }
    if (h.insecure && !h.ca_pem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": insecure (plain HTTP) and caFile (HTTPS with that CA) contradict; keep one"));
    }
    if (h.username.empty() != h.password.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": username and password go together"));
    }
    config.hosts[host] = h;
  }
  return absl::OkStatus();
}

absl::Status LoadRegistryConfigFile(const std::string& path, RegistryConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read the file"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(path, ": expected a mapping"));
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key != "registries") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown setting \"", key, "\" (expected registries)"));
    }
    if (auto st = ParseRegistries(kv.second, path, config); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace gantry::registry
