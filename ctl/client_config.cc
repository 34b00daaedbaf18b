#include "ctl/client_config.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "yaml-cpp/yaml.h"

namespace gantry::ctl {

const ClientContext* ClientConfig::Find(const std::string& name) const {
  const std::string& wanted = name.empty() ? current_context : name;
  for (const auto& c : contexts) {
    if (c.name == wanted) return &c;
  }
  return nullptr;
}

void ClientConfig::Upsert(ClientContext context) {
  current_context = context.name;
  for (auto& c : contexts) {
    if (c.name == context.name) {
      c = std::move(context);
      return;
    }
  }
  contexts.push_back(std::move(context));
}

std::string DefaultConfigPath() {
  if (const char* env = std::getenv("GANTRY_CONFIG"); env != nullptr && *env != '\0') return env;
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr && *home != '\0' ? home : "/root",
                      "/.config/gantry/config.yaml");
}

namespace {

absl::StatusOr<ClientContext> ParseContext(const std::string& path, size_t index,
                                           const YAML::Node& node) {
  const std::string where = absl::StrCat(path, ": contexts[", index, "]");
  if (!node.IsMap()) return absl::InvalidArgumentError(where + ": expected a mapping");
  ClientContext c;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", key, ": expected text"));
    }
    const std::string value = kv.second.as<std::string>();
    if (key == "name") {
      c.name = value;
    } else if (key == "server") {
      c.server = value;
    } else if (key == "ca") {
      c.ca_pem = value;
    } else if (key == "token") {
      c.token = value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".", key, ": unknown key (name, server, ca, token)"));
    }
  }
  if (c.name.empty()) return absl::InvalidArgumentError(where + ".name: missing");
  return c;
}

}  // namespace

absl::StatusOr<ClientConfig> LoadClientConfig(const std::string& path) {
  ClientConfig config;
  if (!std::filesystem::exists(path)) return config;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  if (root.IsNull()) return config;
  if (!root.IsMap()) return absl::InvalidArgumentError(path + ": expected a mapping");
  if (root["current-context"]) config.current_context = root["current-context"].as<std::string>();
  if (const YAML::Node contexts = root["contexts"]) {
    if (!contexts.IsSequence()) {
      return absl::InvalidArgumentError(path + ": contexts: expected a list");
    }
    for (size_t i = 0; i < contexts.size(); ++i) {
      auto c = ParseContext(path, i, contexts[i]);
      if (!c.ok()) return c.status();
      config.contexts.push_back(*std::move(c));
    }
  }
  return config;
}

absl::Status SaveClientConfig(const std::string& path, const ClientConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "current-context" << YAML::Value << config.current_context;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : config.contexts) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << c.name << YAML::Key << "server"
        << YAML::Value << c.server << YAML::Key << "ca" << YAML::Value << YAML::Literal << c.ca_pem
        << YAML::Key << "token" << YAML::Value << c.token << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) {
    if (auto st = MakePrivateDirectory(dir); !st.ok()) return st;
  }
  return WriteFileAtomically(path, std::string(out.c_str()) + "\n", 0600);
}

}  // namespace gantry::ctl
