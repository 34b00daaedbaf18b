#pragma once

// gantryctl secret: create, update, list, describe, get (--reveal),
// delete and rotate-key. Values are read from a file, standard input or the command line
// and sent once; only `get --reveal` prints one, raw, on standard output.
// Each returns the process exit code.

#include <cstdint>
#include <string>

#include "ctl/connection.h"

namespace gantry::ctl {

// Where a value comes from: exactly one of a file ("-": standard input)
// and a literal.
struct SecretValueSource {
  std::string from_file;
  std::string from_literal;
  bool literal_given = false;
};

class SecretCommands {
 public:
  explicit SecretCommands(Connection& c) : c_(c) {}

  int Create(const std::string& name, const SecretValueSource& source);
  int Update(const std::string& name, const SecretValueSource& source, bool no_rollout);
  int List();
  int Describe(const std::string& name);
  // Metadata, or with `reveal` the value of `version` (0: current).
  int Get(const std::string& name, bool reveal, int64_t version);
  int Delete(const std::string& name);
  // A new key-encryption key for every secret (admin).
  int RotateKey();

 private:
  int Put(const std::string& name, const SecretValueSource& source, bool create, bool no_rollout);

  Connection& c_;
};

// The value, at most spec::kMaxSecretBytes; errors name the flag.
absl::StatusOr<std::string> ReadSecretValue(const SecretValueSource& source, std::istream& in);

}  // namespace gantry::ctl
