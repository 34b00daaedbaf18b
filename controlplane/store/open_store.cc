#include "controlplane/store/open_store.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "controlplane/store/sqlite_store.h"

namespace gantry::store {

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       std::string& where) {
  SqliteStore::Options options;
  if (data_dir.empty()) {
    options.path = ":memory:";
  } else {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", data_dir, ": cannot create the directory: ", ec.message()));
    }
    options.path = (std::filesystem::path(data_dir) / "state.db").string();
  }
  where = options.path;
  auto store = SqliteStore::Open(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

absl::StatusOr<std::unique_ptr<EtcdStore>> OpenEtcdStore(const std::string& url,
                                                         const TlsFiles& tls) {
  EtcdStore::Options etcd;
  ASSIGN_OR_RETURN(etcd.etcd.endpoints, ParseEtcdUrl(url));
  const std::pair<const std::string*, std::string*> files[] = {{&tls.ca, &etcd.etcd.ca_pem},
                                                               {&tls.cert, &etcd.etcd.cert_pem},
                                                               {&tls.key, &etcd.etcd.key_pem}};
  const char* flags[] = {"--etcd-ca", "--etcd-cert", "--etcd-key"};
  for (size_t i = 0; i < 3; ++i) {
    if (files[i].first->empty()) continue;
    ASSIGN_OR_RETURN(*files[i].second, ReadFileForFlag(*files[i].first, flags[i]));
  }
  auto store = EtcdStore::Open(etcd);
  if (!store.ok()) return Annotate(store.status(), absl::StrCat("--store ", url));
  return store;
}

}  // namespace gantry::store
