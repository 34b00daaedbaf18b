#include "controlplane/store_tools.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/status_util.h"
#include "controlplane/store/open_store.h"
#include "controlplane/store/snapshot.h"

namespace gantry {
namespace {

std::string PkiDir(const StoreTarget& t) {
  return !t.pki_dir.empty() ? t.pki_dir : (std::filesystem::path(t.data_dir) / "pki").string();
}

// The target's PKI must be the snapshot's cluster's.
absl::Status CheckPki(const StoreTarget& target, const std::string& cluster_id) {
  const std::string dir = PkiDir(target);
  auto id = ReadWholeFile(dir + "/cluster-id");
  if (absl::IsNotFound(id.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir,
                     " holds no cluster PKI: copy the pki directory saved with the snapshot there "
                     "(or pass --pki-dir); the restored store belongs to cluster ",
                     cluster_id, " and only its PKI can serve it"));
  }
  if (!id.ok()) return id.status();
  const std::string have(absl::StripAsciiWhitespace(*id));
  if (have != cluster_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the snapshot is of cluster ", cluster_id, ", but ", dir, " is the PKI of cluster ", have,
        ": restore into that cluster's data dir, with its pki"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenTarget(const StoreTarget& target,
                                                         std::string& where) {
  if (target.store.empty()) return store::OpenSqliteStore(target.data_dir, where);
  where = target.store;
  ASSIGN_OR_RETURN(auto etcd, store::OpenEtcdStore(target.store, target.etcd_tls));
  return std::unique_ptr<store::Store>(std::move(etcd));
}

absl::Status Restore(const gantry::v1::StoreSnapshot& snapshot, const StoreTarget& target,
                     std::ostream& out) {
  RETURN_IF_ERROR(CheckPki(target, snapshot.cluster_id()));
  std::string where;
  ASSIGN_OR_RETURN(auto store, OpenTarget(target, where));
  RETURN_IF_ERROR(store::RestoreSnapshot(snapshot, store.get(), where));
  out << "restored " << snapshot.entries_size() << " keys of cluster " << snapshot.cluster_id()
      << " (store revision " << snapshot.revision() << " when saved) into " << where << "\n";
  return absl::OkStatus();
}

}  // namespace

absl::Status RestoreStore(const std::string& file, const StoreTarget& target, std::ostream& out) {
  ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(file));
  gantry::v1::StoreSnapshot snapshot;
  if (!snapshot.ParseFromString(bytes) || snapshot.cluster_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--from ", file, ": not a Gantry snapshot (gantryctl snapshot save makes one)"));
  }
  return Restore(snapshot, target, out);
}

absl::Status MigrateStore(const std::string& from_data_dir, const StoreTarget& target,
                          std::ostream& out) {
  if (target.store.empty()) {
    return absl::InvalidArgumentError("migrate needs --store etcd://...: where the state goes");
  }
  const std::string db = (std::filesystem::path(from_data_dir) / "state.db").string();
  if (!std::filesystem::exists(db)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from-data-dir ", from_data_dir, ": no state.db there"));
  }
  std::string where;
  ASSIGN_OR_RETURN(auto source, store::OpenSqliteStore(from_data_dir, where));
  ASSIGN_OR_RETURN(auto snapshot, store::TakeSnapshot(source.get(), RealClock::Get()));
  StoreTarget with_pki = target;
  if (with_pki.pki_dir.empty() && with_pki.data_dir.empty()) {
    with_pki.pki_dir = (std::filesystem::path(from_data_dir) / "pki").string();
  }
  RETURN_IF_ERROR(Restore(snapshot, with_pki, out));
  out << "start the control planes with --store " << target.store << " (the first with --data-dir "
      << from_data_dir << ", others with --pki-dir pointing to a copy of its pki)\n";
  return absl::OkStatus();
}

}  // namespace gantry
