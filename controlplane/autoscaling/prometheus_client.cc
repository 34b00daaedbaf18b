#include "controlplane/autoscaling/prometheus_client.h"

#include <curl/curl.h>

#include <cmath>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_fields.h"
#include "nlohmann/json.hpp"

namespace gantry::autoscaling {

using nlohmann::json;

namespace {

absl::StatusOr<double> SampleValue(const json& sample) {
  // [timestamp, "value"]
  if (!sample.is_array() || sample.size() != 2 || !sample[1].is_string()) {
    return absl::InvalidArgumentError("malformed sample");
  }
  const std::string text = sample[1].get<std::string>();
  double v = 0;
  if (text == "NaN") return std::nan("");
  if (!absl::SimpleAtod(text, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed sample value \"", text, "\""));
  }
  return v;
}

// The address without credentials (http://user:password@host -> http://host),
// for messages that end up in events and logs.
std::string Redact(const std::string& address) {
  const size_t scheme = address.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t at = address.find('@', start);
  const size_t slash = address.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return address;
  return absl::StrCat(address.substr(0, start), address.substr(at + 1));
}

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() < (16 << 20)) out->append(data, size * n);
  return size * n;
}

}  // namespace

absl::StatusOr<QueryResult> ParseQueryResponse(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("Prometheus' answer is not JSON");
  }
  if (JsonText(j, "status", "") != "success") {
    return absl::FailedPreconditionError(
        absl::StrCat("Prometheus: ", JsonText(j, "errorType", "error"), ": ",
                     JsonText(j, "error", "unknown error")));
  }
  const json& data = JsonMember(j, "data");
  if (!data.is_object()) return absl::InvalidArgumentError("Prometheus' answer has no data");
  const std::string type = JsonText(data, "resultType", "");
  QueryResult out;
  if (type == "scalar") {
    out.scalar = true;
    auto v = SampleValue(JsonMember(data, "result"));
    if (!v.ok()) return v.status();
    out.values.push_back(*v);
    return out;
  }
  if (type == "vector") {
    const json& result = JsonMember(data, "result");
    if (!result.is_array()) {
      return absl::InvalidArgumentError("Prometheus' vector has no result list");
    }
    for (const auto& series : result) {
      if (!series.is_object() || !series.contains("value")) {
        return absl::InvalidArgumentError("malformed series in Prometheus' answer");
      }
      auto v = SampleValue(JsonMember(series, "value"));
      if (!v.ok()) return v.status();
      out.values.push_back(*v);
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("the query returns a ",
                                                 type.empty() ? "result of unknown type" : type,
                                                 ", not a scalar or an instant vector"));
}

absl::StatusOr<double> SingleValue(const QueryResult& result) {
  if (result.values.empty()) return absl::NotFoundError("the query returned no value");
  if (result.values.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the query returned ", result.values.size(),
                     " series; aggregate them (sum, max, avg) so it returns one value"));
  }
  if (std::isnan(result.values[0])) return absl::InvalidArgumentError("the query returned NaN");
  if (std::isinf(result.values[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("the query returned ", result.values[0] > 0 ? "+Inf" : "-Inf",
                     " (a division by zero?); make it return a finite number"));
  }
  return result.values[0];
}

absl::StatusOr<QueryResult> HttpPrometheus::Query(const std::string& address,
                                                  const std::string& promql) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  char* escaped = curl_easy_escape(curl.get(), promql.c_str(), static_cast<int>(promql.size()));
  const std::string url = absl::StrCat(address, "/api/v1/query?query=", escaped);
  curl_free(escaped);
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("Prometheus at ", Redact(address), ": ", curl_easy_strerror(rc),
                     rc == CURLE_COULDNT_CONNECT ? " (is Prometheus running there?)" : ""));
  }
  long code = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
  auto parsed = ParseQueryResponse(body);
  if (!parsed.ok() && code != 200) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(parsed.status().message(), " (HTTP ", code, ")"));
  }
  return parsed;
}

}  // namespace gantry::autoscaling
