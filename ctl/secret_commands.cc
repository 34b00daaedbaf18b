#include "ctl/secret_commands.h"

#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/secret_refs.h"
#include "common/time_util.h"
#include "ctl/output.h"

namespace gantry::ctl {
namespace {

absl::StatusOr<std::string> ReadAtMost(std::istream& in, const std::string& what) {
  std::string value;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    value.append(buffer, static_cast<size_t>(in.gcount()));
    if (value.size() > spec::kMaxSecretBytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": larger than ",
                                                     spec::kMaxSecretBytes / 1024,
                                                     " KiB, the most a secret may hold"));
    }
  }
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot be read"));
  return value;
}

}  // namespace

absl::StatusOr<std::string> ReadSecretValue(const SecretValueSource& source, std::istream& in) {
  const bool file = !source.from_file.empty();
  if (file == source.literal_given) {
    return absl::InvalidArgumentError(
        "give the value with exactly one of --from-file FILE ('-' for standard input) and "
        "--from-literal VALUE");
  }
  absl::StatusOr<std::string> value = source.from_literal;
  if (source.from_file == "-") {
    value = ReadAtMost(in, "--from-file -");
  } else if (file) {
    std::ifstream f(source.from_file, std::ios::binary);
    if (!f) {
      return absl::InvalidArgumentError(
          absl::StrCat("--from-file ", source.from_file, ": cannot open the file"));
    }
    value = ReadAtMost(f, absl::StrCat("--from-file ", source.from_file));
  }
  if (!value.ok()) return value.status();
  if (value->empty()) return absl::InvalidArgumentError("the secret's value is empty");
  if (value->size() > spec::kMaxSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--from-literal: larger than ", spec::kMaxSecretBytes / 1024, " KiB, the most allowed"));
  }
  return value;
}

int SecretCommands::Put(const std::string& name, const SecretValueSource& source, bool create,
                        bool no_rollout) {
  const char* verb = create ? "secret create" : "secret update";
  if (auto problem = spec::SecretNameProblem(name); !problem.empty()) {
    return c_.Fail(absl::InvalidArgumentError(absl::StrCat(verb, ": the name ", problem)));
  }
  auto value = ReadSecretValue(source, std::cin);
  if (!value.ok()) {
    return c_.Fail(
        absl::InvalidArgumentError(absl::StrCat(verb, " ", name, ": ", value.status().message())));
  }
  gantry::v1::PutSecretRequest req;
  req.set_name(name);
  req.set_value(*std::move(value));
  req.set_no_rollout(no_rollout);
  gantry::v1::PutSecretResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = create ? c_.api().CreateSecret(ctx.get(), req, &resp)
                               : c_.api().UpdateSecret(ctx.get(), req, &resp);
  if (!status.ok()) return c_.Fail(status, absl::StrCat(verb, " ", name));
  if (!c_.table()) return c_.Print(resp);
  c_.out() << "secret " << name << (create ? " created" : " updated") << " (version "
           << resp.secret().current_version() << ")\n";
  if (!resp.rolled_services().empty()) {
    c_.out() << "new deployments started for: " << absl::StrJoin(resp.rolled_services(), ", ")
             << "\n";
  }
  return 0;
}

int SecretCommands::Create(const std::string& name, const SecretValueSource& source) {
  return Put(name, source, true, false);
}

int SecretCommands::Update(const std::string& name, const SecretValueSource& source,
                           bool no_rollout) {
  return Put(name, source, false, no_rollout);
}

int SecretCommands::List() {
  gantry::v1::ListSecretsResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().ListSecrets(ctx.get(), {}, &resp);
  if (!status.ok()) return c_.Fail(status, "secret list");
  if (!c_.table()) return c_.Print(resp);
  Table table({"NAME", "VERSION", "VERSIONS KEPT", "UPDATED", "USED BY"});
  for (const auto& s : resp.secrets()) {
    table.Add({s.name(), absl::StrCat(s.current_version()), absl::StrCat(s.versions_size()),
               When(s.updated_at()), s.used_by().empty() ? "-" : absl::StrJoin(s.used_by(), ",")});
  }
  table.Print(c_.out());
  return 0;
}

int SecretCommands::Describe(const std::string& name) {
  gantry::v1::GetSecretRequest req;
  req.set_name(name);
  gantry::v1::Secret s;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().GetSecret(ctx.get(), req, &s);
  if (!status.ok()) return c_.Fail(status, absl::StrCat("secret describe ", name));
  if (!c_.table()) return c_.Print(s);
  auto& out = c_.out();
  out << "Name:             " << s.name() << "\n"
      << "Current version:  " << s.current_version() << "\n"
      << "Created:          " << When(s.created_at()) << "\n"
      << "Updated:          " << When(s.updated_at()) << "\n"
      << "Used by:          " << (s.used_by().empty() ? "-" : absl::StrJoin(s.used_by(), ", "))
      << "\n"
      << "Versions:\n";
  Table table({"VERSION", "CREATED", "BY", "BYTES"});
  for (const auto& v : s.versions()) {
    table.Add(
        {absl::StrCat(v.version()), When(v.created_at()), v.created_by(), absl::StrCat(v.size())});
  }
  table.Print(out);
  return 0;
}

int SecretCommands::Get(const std::string& name, bool reveal, int64_t version) {
  if (!reveal) {
    if (version != 0) {
      return c_.Fail(absl::InvalidArgumentError("secret get: --version needs --reveal"));
    }
    return Describe(name);
  }
  gantry::v1::RevealSecretRequest req;
  req.set_name(name);
  req.set_version(version);
  gantry::v1::RevealSecretResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().RevealSecret(ctx.get(), req, &resp);
  if (!status.ok()) return c_.Fail(status, absl::StrCat("secret get ", name, " --reveal"));
  if (!c_.table()) return c_.Print(resp);
  c_.out() << resp.value();  // as stored: no newline added
  c_.out().flush();
  return 0;
}

int SecretCommands::Delete(const std::string& name) {
  gantry::v1::DeleteSecretRequest req;
  req.set_name(name);
  gantry::v1::Secret s;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().DeleteSecret(ctx.get(), req, &s);
  if (!status.ok()) return c_.Fail(status, absl::StrCat("secret delete ", name));
  if (!c_.table()) return c_.Print(s);
  c_.out() << "secret " << name << " deleted\n";
  return 0;
}

int SecretCommands::RotateKey() {
  gantry::v1::RotateSecretsKeyResponse resp;
  auto ctx = c_.Context();
  grpc::Status status = c_.api().RotateSecretsKey(ctx.get(), {}, &resp);
  if (!status.ok()) return c_.Fail(status, "secret rotate-key");
  if (!c_.table()) return c_.Print(resp);
  c_.out() << "key-encryption key " << resp.old_key_id() << " replaced by " << resp.new_key_id()
           << "; " << resp.rewrapped() << " version(s) re-wrapped\n";
  if (!resp.key_file().empty()) {
    c_.out() << "the new key is in " << resp.key_file()
             << " on the leader: copy it to every other replica and restart them\n";
  }
  return 0;
}

}  // namespace gantry::ctl
