#pragma once

// Reads a `kind: Role` document, a custom role for `gantryctl apply`:
//
//   kind: Role
//   name: web-scaler              # a DNS label, not admin/deployer/viewer/lb
//   description: CI scales web    # optional
//   rules:
//     - verbs: [get, scale]       # or ["*"]
//       resources: [services]     # or ["*"]
//       names: ["web*"]           # optional globs; none: every name
//
// Only the shape is read here (unknown fields and wrong types are errors
// naming the line and field); what the values may be is
// access::ValidateRole's, which spec_parser.cc runs next.

#include "ctl/yaml_doc.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::ctl {

void ParseRole(Doc& doc, const YAML::Node& n, gantry::v1::Role& role);

}  // namespace gantry::ctl
