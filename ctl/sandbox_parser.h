#pragma once

// Reads a container's sandbox fields from a task definition document:
// pidsLimit, readonlyRootFilesystem, user, ulimits and
// linuxParameters.capabilities. Used by spec_parser.cc; meaning and limits
// are checked afterwards by common/spec/sandbox.h.

#include <set>
#include <string>

#include "ctl/yaml_doc.h"
#include "gantry/v1/types.pb.h"

namespace gantry::ctl {

// The keys ParseSandboxField reads.
const std::set<std::string>& SandboxKeys();

// Reads `key` (one of SandboxKeys()) into `c`.
void ParseSandboxField(Doc& doc, const std::string& key, const YAML::Node& v,
                       const std::string& field, gantry::v1::ContainerDefinition& c);

}  // namespace gantry::ctl
