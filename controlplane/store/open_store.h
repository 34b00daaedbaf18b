#pragma once

// Opening the state store from command-line settings, for the control plane
// and for its offline tools (restore, migrate): SQLite in a data dir, or
// etcd from an etcd:// URL with its TLS files. Errors name the flag.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls.h"
#include "controlplane/store/etcd_store.h"
#include "controlplane/store/store.h"

namespace gantry::store {

// DATA_DIR/state.db (created with the directory when missing); an empty
// data dir: in memory (tests). `where` is set to the path.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       std::string& where);

// --store etcd://... with --etcd-ca, --etcd-cert, --etcd-key (`tls` holds
// the files; an empty CA means plaintext).
absl::StatusOr<std::unique_ptr<EtcdStore>> OpenEtcdStore(const std::string& url,
                                                         const TlsFiles& tls);

}  // namespace gantry::store
