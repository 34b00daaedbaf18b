// A bounded HTTP load generator for the end-to-end tests: sends a fixed
// number of GET requests at a steady rate over keep-alive connections and
// reports every failure (connection errors and non-200 answers) and how
// many answers each distinct body got.
//
// usage: gantry-loadgen URL REQUESTS RATE_PER_SECOND CONCURRENCY
// Exit code 0 when every request got a 200.

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s URL REQUESTS RATE_PER_SECOND CONCURRENCY\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const int requests = std::atoi(argv[2]);
  const double rate = std::atof(argv[3]);
  const int concurrency = std::max(1, std::atoi(argv[4]));
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::mutex mu;
  std::map<std::string, int> bodies;
  std::vector<std::string> errors;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      CURL* curl = curl_easy_init();
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
      for (;;) {
        const int i = next++;
        if (i >= requests) break;
        // Request i is due at start + i / rate.
        std::this_thread::sleep_until(
            start + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate)));
        std::string body;
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        const CURLcode rc = curl_easy_perform(curl);
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        std::lock_guard<std::mutex> lock(mu);
        if (rc != CURLE_OK || code != 200) {
          failed++;
          if (errors.size() < 10) {
            errors.push_back(rc != CURLE_OK ? curl_easy_strerror(rc)
                                            : "HTTP " + std::to_string(code) + ": " + body);
          }
        } else {
          while (!body.empty() && body.back() == '\n') body.pop_back();
          bodies[body]++;
        }
      }
      curl_easy_cleanup(curl);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("requests %d, failed %d, in %.1f s\n", requests, failed.load(), seconds);
  for (const auto& [body, n] : bodies) std::printf("  %6d x %s\n", n, body.c_str());
  for (const auto& e : errors) std::printf("  error: %s\n", e.c_str());
  return failed == 0 ? 0 : 1;
}
