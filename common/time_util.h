#pragma once

// absl::Time / absl::Duration <-> protobuf Timestamp / Duration.

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace gantry {

google::protobuf::Timestamp ToProtoTime(absl::Time t);
absl::Time FromProtoTime(const google::protobuf::Timestamp& ts);
google::protobuf::Duration ToProtoDuration(absl::Duration d);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

// "3m", "2h", "5d": how long ago, for tables.
std::string FormatAge(absl::Time then, absl::Time now);

}  // namespace gantry
