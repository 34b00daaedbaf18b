#pragma once

// Semantic checks of a custom role (`kind: Role`), shared by gantryctl
// (before anything is sent) and the control plane (apply, since the API can
// be called without gantryctl). Errors carry a field path such as
// "rules[1].verbs[0]" and say what is allowed, like spec/validation.h.
//
//   name         a DNS label (1 to 63 of a-z, 0-9, '-'), not a built-in
//                role's name: built-in roles cannot be overridden
//   description  optional, at most 200 printable characters
//   rules        1 to 100; each with
//     verbs      1 to 50 of the verbs in vocabulary.h, or "*"
//     resources  1 to 50 of the resources in vocabulary.h, or "*"; never
//                tokens or join tokens, and roles only with get and list
//                (AdminOnly): only admin makes tokens and roles
//     names      0 to 50 globs (* and ?) of letters, digits, '.', '_', '-';
//                none: every name
//
// Pure; thread-safe.

#include <string>
#include <vector>

#include "common/spec/validation.h"
#include "gantry/v1/operator.pb.h"

namespace gantry::access {

inline constexpr char kAll[] = "*";

std::vector<spec::FieldError> ValidateRole(const gantry::v1::Role& role);

// "" when `name` may name a custom role, else the problem.
std::string RoleNameProblem(const std::string& name);

}  // namespace gantry::access
