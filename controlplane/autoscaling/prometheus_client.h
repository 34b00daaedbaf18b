#pragma once

// Reads numbers from Prometheus' HTTP API (/api/v1/query) with libcurl. The
// answer is parsed strictly: an error status, an empty result, or more than
// one value is an error the caller reports — never a number made up.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gantry::autoscaling {

struct QueryResult {
  bool scalar = false;
  std::vector<double> values;  // one per series for a vector
};

// Parses an /api/v1/query answer. Scalars and instant vectors are
// understood; matrices and strings are errors.
absl::StatusOr<QueryResult> ParseQueryResponse(const std::string& body);

// The one value of a scalar or single-series vector; NotFound for an empty
// vector; InvalidArgument for several series.
absl::StatusOr<double> SingleValue(const QueryResult& result);

// Runs an instant query. Interface so tests can answer without a server.
class Prometheus {
 public:
  virtual ~Prometheus() = default;
  virtual absl::StatusOr<QueryResult> Query(const std::string& address,
                                            const std::string& promql) = 0;
};

class HttpPrometheus final : public Prometheus {
 public:
  explicit HttpPrometheus(absl::Duration timeout = absl::Seconds(5)) : timeout_(timeout) {}
  absl::StatusOr<QueryResult> Query(const std::string& address, const std::string& promql) override;

 private:
  const absl::Duration timeout_;
};

}  // namespace gantry::autoscaling
