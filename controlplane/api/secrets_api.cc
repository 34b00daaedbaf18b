#include "controlplane/api/secrets_api.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/spec/secret_refs.h"
#include "common/status_util.h"
#include "common/time_util.h"
#include "controlplane/deployments/deployments.h"
#include "controlplane/secrets/secret_usage.h"

namespace gantry::api {

using gantry::v1::Service;

absl::StatusOr<gantry::v1::PutSecretResponse> SecretsApi::Create(
    const gantry::v1::PutSecretRequest& request, const std::string& who) {
  ASSIGN_OR_RETURN(auto secret, secrets_->Create(request.name(), request.value(), who));
  events_->Record("", "", "", absl::StrCat("secret ", request.name(), " created (version 1)"));
  gantry::v1::PutSecretResponse out;
  *out.mutable_secret() = WithUsers(std::move(secret));
  return out;
}

absl::StatusOr<gantry::v1::PutSecretResponse> SecretsApi::Update(
    const gantry::v1::PutSecretRequest& request, const std::string& who) {
  ASSIGN_OR_RETURN(auto secret, secrets_->Update(request.name(), request.value(), who));
  const int64_t version = secret.current_version();
  events_->Record("", "", "",
                  absl::StrCat("secret ", request.name(), " updated to version ", version,
                               request.no_rollout() ? " (no rollout)" : ""));
  gantry::v1::PutSecretResponse out;
  if (!request.no_rollout()) {
    for (auto& s : RollOut(request.name(), version)) out.add_rolled_services(std::move(s));
  }
  *out.mutable_secret() = WithUsers(std::move(secret));
  return out;
}

std::vector<std::string> SecretsApi::RollOut(const std::string& name, int64_t version) {
  std::vector<std::string> rolled;
  for (const Service& listed : state_->ListServices()) {
    std::string message;
    auto st = state_->UpdateService(listed.name(), [&](Service& s) {
      if (s.status() == Service::DELETING) return false;
      const auto* primary = deployments::Primary(s);
      if (primary == nullptr) return false;
      const auto td = state_->ResolveTaskDefinition(primary->task_definition());
      if (!td || !secrets::FollowsSecret(*td, name)) return false;
      const gantry::v1::Deployment previous = *primary;
      auto& d = deployments::Start(s, previous.task_definition(), clock_->Now());
      // The same images; only the secret moves (the pinner pins its new
      // version, and keeps the others' as they are now).
      *d.mutable_image_pins() = previous.image_pins();
      d.set_images_pinned(previous.images_pinned());
      *s.mutable_updated_at() = ToProtoTime(clock_->Now());
      message = absl::StrCat("deployment ", d.id(), " of ", previous.task_definition(),
                             " started: secret ", name, " is now version ", version);
      return true;
    });
    if (!st.ok()) {
      spdlog::warn("secrets: rolling service {} for secret {}: {}", listed.name(), name,
                   st.message());
      continue;
    }
    if (message.empty()) continue;
    events_->Record(listed.name(), "", "", message);
    rolled.push_back(listed.name());
  }
  return rolled;
}

gantry::v1::ListSecretsResponse SecretsApi::List() const {
  gantry::v1::ListSecretsResponse out;
  for (auto& s : secrets_->List()) *out.add_secrets() = WithUsers(std::move(s));
  return out;
}

absl::StatusOr<gantry::v1::Secret> SecretsApi::Get(const std::string& name) const {
  auto secret = secrets_->Get(name);
  if (!secret) return NotFound(name);
  return WithUsers(std::move(*secret));
}

absl::StatusOr<gantry::v1::RevealSecretResponse> SecretsApi::Reveal(
    const gantry::v1::RevealSecretRequest& request) const {
  if (!secrets_->Get(request.name())) return NotFound(request.name());
  ASSIGN_OR_RETURN(auto revealed, secrets_->Reveal(request.name(), request.version()));
  gantry::v1::RevealSecretResponse out;
  out.set_name(request.name());
  out.set_version(revealed.version);
  out.set_value(std::move(revealed.value));
  return out;
}

absl::StatusOr<gantry::v1::Secret> SecretsApi::Delete(const std::string& name) {
  if (!secrets_->Get(name)) return NotFound(name);
  const auto users = secrets::ServicesUsing(*state_, name);
  if (!users.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("secret ", name, " is used by service(s) ", absl::StrJoin(users, ", "),
                     "; deploy task definitions without it (or delete those services) first"));
  }
  ASSIGN_OR_RETURN(auto secret, secrets_->Delete(name));
  events_->Record("", "", "", absl::StrCat("secret ", name, " deleted"));
  return secret;
}

absl::StatusOr<gantry::v1::RotateSecretsKeyResponse> SecretsApi::RotateKey() {
  std::lock_guard<std::mutex> lock(rotate_mu_);
  ASSIGN_OR_RETURN(auto rotation, secrets::RotateKey(*secrets_, key_files_));
  events_->Record(
      "", "", "",
      absl::StrCat("secrets' key-encryption key ", rotation.old_key_id, " replaced by ",
                   rotation.new_key_id, "; ", rotation.rewrapped, " version(s) re-wrapped"));
  gantry::v1::RotateSecretsKeyResponse out;
  out.set_old_key_id(rotation.old_key_id);
  out.set_new_key_id(rotation.new_key_id);
  out.set_rewrapped(rotation.rewrapped);
  if (key_files_ != nullptr) out.set_key_file(key_files_->path());
  return out;
}

gantry::v1::Secret SecretsApi::WithUsers(gantry::v1::Secret secret) const {
  secret.clear_used_by();
  for (auto& s : secrets::ServicesUsing(*state_, secret.name())) secret.add_used_by(std::move(s));
  return secret;
}

absl::Status SecretsApi::NotFound(const std::string& name) const {
  return absl::NotFoundError(absl::StrCat("no secret \"", name, "\"",
                                          spec::DidYouMean(name, secrets_->Names()),
                                          "; gantryctl secret list lists them"));
}

}  // namespace gantry::api
