#pragma once

// gantry-controlplane's offline tools, run while no control plane uses the
// target store:
//   restore --from FILE   writes a snapshot (gantryctl snapshot save) into
//                         an empty store: SQLite in --data-dir, or etcd;
//   migrate --from-data-dir D --store etcd://...
//                         moves a single control plane's SQLite store into
//                         an empty etcd, keeping its cluster identity.
// Both check that the cluster's PKI is there and is the snapshot's: a store
// is only usable by the cluster its PKI names.

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "common/tls.h"

namespace gantry {

struct StoreTarget {
  std::string data_dir;
  std::string pki_dir;  // default data_dir/pki
  std::string store;    // empty: SQLite in data_dir
  TlsFiles etcd_tls;
};

absl::Status RestoreStore(const std::string& file, const StoreTarget& target, std::ostream& out);
absl::Status MigrateStore(const std::string& from_data_dir, const StoreTarget& target,
                          std::ostream& out);

}  // namespace gantry
