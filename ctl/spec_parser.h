#pragma once

// Reads the YAML files users apply: one or more documents, each with
// `kind: TaskDefinition`, `kind: Service` or `kind: Role` (role_document.h). Every problem is
// reported with file, document, object and field ("web.yaml: document 2 (Service web):
// desiredCount: must be >= 0, got -1"); unknown fields are errors. The
// result is the ApplyRequest to send, already validated, or an error — never
// a partial request.

#include <string>

#include "absl/status/statusor.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::ctl {

// `source_name` is used in messages (the file name, or "<stdin>").
absl::StatusOr<gantry::v1::ApplyRequest> ParseSpecs(const std::string& yaml_text,
                                                    const std::string& source_name);

absl::StatusOr<gantry::v1::ApplyRequest> ParseSpecFile(const std::string& path);

}  // namespace gantry::ctl
