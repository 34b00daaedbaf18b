#pragma once

// What the rest of the control plane asks about secrets without touching a
// value: which secrets and versions exist. SecretRegistry answers in the
// control plane; a map answers in tests.
//
// Implementations must be thread-safe.

#include <cstdint>
#include <string>
#include <vector>

namespace gantry::secrets {

class SecretCatalog {
 public:
  virtual ~SecretCatalog() = default;
  // The secret's newest version; 0 when no secret has that name.
  virtual int64_t CurrentVersion(const std::string& name) const = 0;
  // The version is still kept (old versions are pruned, see SecretRegistry).
  virtual bool HasVersion(const std::string& name, int64_t version) const = 0;
  // Every secret's name, sorted.
  virtual std::vector<std::string> Names() const = 0;
};

}  // namespace gantry::secrets
