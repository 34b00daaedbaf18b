#pragma once

// Resolves an image reference's tag to the digest it names now, so that a
// deployment pins one digest for all its tasks (as ECS does). The registry
// implementation asks the registry directly; tests use a fake.
//
// Implementations must be thread-safe.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/registry/registry_client.h"

namespace gantry::images {

class ImageResolver {
 public:
  virtual ~ImageResolver() = default;
  // The manifest (or index) digest `image` names; an image given by digest
  // resolves to that digest without asking anyone.
  virtual absl::StatusOr<std::string> Resolve(const std::string& image) = 0;
};

class RegistryImageResolver final : public ImageResolver {
 public:
  explicit RegistryImageResolver(registry::RegistryConfig config) : client_(std::move(config)) {}
  absl::StatusOr<std::string> Resolve(const std::string& image) override;

 private:
  registry::RegistryClient client_;
};

}  // namespace gantry::images
