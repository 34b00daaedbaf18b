#pragma once

// What each operator call needs, as Authorizer permissions, and what a
// caller may see of what it reads. Pure functions over the requests.

#include <string>
#include <vector>

#include "controlplane/identity/authorizer.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::api {

// One permission per document: apply on its task definition family,
// service or role (roles: admin only, see access::AdminOnly), and apply on
// every secret a task definition references, use on every capability it
// adds beyond the default set, and use on network "host" for an explicit
// networkMode: host.
std::vector<identity::Permission> ApplyPermissions(const gantry::v1::ApplyRequest& request);

// "web:3" -> "web".
std::string FamilyOf(const std::string& reference);

inline constexpr char kRedacted[] = "(redacted)";

// Environment values are shown only to callers that may apply the family
// (they could set them anyway); everyone else sees the names with the
// values replaced by kRedacted.
void RedactEnvironment(const identity::Identity& who, const identity::Authorizer& authorizer,
                       gantry::v1::TaskDefinition& definition);

}  // namespace gantry::api
