#pragma once

// Who is calling: what authentication (a bearer token, an operator's client
// certificate, a node certificate) established, and what refusals and the
// audit log call it. A plain value.

#include <string>

namespace gantry::identity {

struct Identity {
  enum class Kind { kOperatorToken, kOperatorCertificate, kNode };
  Kind kind = Kind::kOperatorToken;
  // Token: its description (its accessor when it has none). Certificate:
  // its common name. Node: the node name.
  std::string name;
  std::string accessor;  // tokens only
  std::string role;      // operators only
  std::string services;  // a deployer's services glob; empty means "*"

  bool is_node() const { return kind == Kind::kNode; }
  // As messages name it: token "ci-web" (role deployer), certificate
  // "alice" (role admin), node "n1".
  std::string Describe() const;
};

}  // namespace gantry::identity
