// What a registry sends: manifests and indexes (JSON from the network) and
// WWW-Authenticate challenges. The first byte picks the parser.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/registry/auth.h"
#include "common/registry/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)gantry::registry::ParseManifest(
          body, gantry::registry::DeclaredMediaType(
                    body, "application/vnd.docker.distribution.manifest.v2+json"));
      break;
    case 1:
      if (auto index = gantry::registry::ParseIndex(body); index.ok()) {
        (void)gantry::registry::SelectPlatform(*index, "linux", "amd64");
      }
      break;
    default:
      (void)gantry::registry::ParseChallenge(body);
  }
  return 0;
}
