#include "agent/health/health_monitor.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/quantity.h"
#include "common/time_util.h"

namespace gantry::agent {

namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

ProbeResult HttpProbe(const HealthTarget& t, absl::Duration timeout) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  const std::string url = absl::StrCat("http://", t.address, ":", t.port, t.check.http().path());
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Discard);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return {false, absl::StrCat("GET ", url, ": ", curl_easy_strerror(rc))};
  long code = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
  return {code >= 200 && code < 400, absl::StrCat("GET ", url, ": HTTP ", code)};
}

ProbeResult TcpProbe(const HealthTarget& t, absl::Duration timeout) {
  const std::string where = absl::StrCat("connect ", t.address, ":", t.port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(t.port));
  if (inet_pton(AF_INET, t.address.c_str(), &addr.sin_addr) != 1) {
    return {false, absl::StrCat(where, ": not an IPv4 address")};
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {false, absl::StrCat(where, ": ", std::strerror(errno))};
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (rc == 0) {
      close(fd);
      return {false, absl::StrCat(where, ": timed out")};
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    rc = err == 0 ? 0 : -1;
    errno = err;
  }
  const std::string error = rc == 0 ? "" : std::strerror(errno);
  close(fd);
  if (rc != 0) return {false, absl::StrCat(where, ": ", error)};
  return {true, absl::StrCat(where, ": open")};
}

}  // namespace

ProbeResult RunProbe(ContainerRuntime* runtime, const HealthTarget& t) {
  const absl::Duration timeout = FromProtoDuration(t.check.timeout());
  if (t.check.has_http()) return HttpProbe(t, timeout);
  if (t.check.has_tcp()) return TcpProbe(t, timeout);
  std::vector<std::string> args;
  if (t.check.command(0) == "CMD-SHELL") {
    args = {"/bin/sh", "-c", t.check.command(1)};
  } else {
    args.assign(t.check.command().begin() + 1, t.check.command().end());
  }
  auto result = runtime->Exec(t.container_id, args, timeout);
  if (!result.ok()) {
    return {false, absl::IsDeadlineExceeded(result.status())
                       ? absl::StrCat("timed out after ", FormatDurationText(timeout))
                       : std::string(result.status().message())};
  }
  return {result->exit_code == 0,
          result->output.empty()
              ? absl::StrCat("exit code ", result->exit_code)
              : absl::StrCat("exit code ", result->exit_code, ": ", result->output)};
}

HealthMonitor::HealthMonitor(ContainerRuntime* runtime, const Clock* clock, Options options)
    : runtime_(runtime), clock_(clock), options_(options) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // reference-counted; before any thread
  if (options_.threads <= 0) return;
  threads_.emplace_back([this] { Scheduler(); });
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Worker(); });
}

HealthMonitor::~HealthMonitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void HealthMonitor::Sync(const std::vector<HealthTarget>& targets) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, const HealthTarget*> wanted;
  for (const auto& t : targets) wanted[t.container_id] = &t;
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = wanted.contains(it->first) ? std::next(it) : entries_.erase(it);
  }
  bool added = false;
  // Probe times and the start period run on the monotonic clock, so that a
  // node whose clock is set ahead does not end every start period at once.
  // A task's start (a wall-clock time in its record) is placed on it once:
  // as long ago as the wall clock says, never in the future.
  const absl::Time now = clock_->Monotonic();
  const absl::Time wall = clock_->Now();
  for (const auto& [id, t] : wanted) {
    if (entries_.contains(id)) continue;
    const absl::Time started = now - std::max(absl::ZeroDuration(), wall - t->started);
    entries_.emplace(
        id, Entry{*t,
                  HealthPolicy(t->check.retries(), FromProtoDuration(t->check.start_period()),
                               started, t->carried),
                  std::max(now, started + options_.first_probe), false, t->carried_output});
    added = true;
  }
  if (added) cv_.notify_all();
}

HealthMonitor::State HealthMonitor::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  return {it->second.policy.status(), it->second.output, true};
}

void HealthMonitor::Run(const std::string& id) {
  HealthTarget target;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    target = it->second.target;
  }
  const absl::Time began = absl::Now();
  const ProbeResult result = RunProbe(runtime_, target);
  if (observer_ != nullptr) {
    observer_->HealthChecked(target.service, target.task, target.container, result.passed,
                             absl::Now() - began);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;  // the container went away meanwhile
  Entry& e = it->second;
  const absl::Time now = clock_->Monotonic();
  e.policy.Record(result.passed, now);
  e.output = result.output;
  e.running = false;
  e.next_due = now + FromProtoDuration(e.target.check.interval());
  cv_.notify_all();
}

void HealthMonitor::RunDue() {
  std::vector<std::string> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = clock_->Monotonic();
    for (auto& [id, e] : entries_) {
      if (!e.running && e.next_due <= now) {
        e.running = true;
        due.push_back(id);
      }
    }
  }
  for (const auto& id : due) Run(id);
}

void HealthMonitor::Scheduler() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const absl::Time now = clock_->Monotonic();
    absl::Time next = now + absl::Seconds(5);
    for (auto& [id, e] : entries_) {
      if (e.running) continue;
      if (e.next_due <= now) {
        e.running = true;
        queue_.push_back(id);
        work_cv_.notify_one();
      } else {
        next = std::min(next, e.next_due);
      }
    }
    cv_.wait_for(lock, absl::ToChronoNanoseconds(next - now));
  }
}

void HealthMonitor::Worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const std::string id = queue_.front();
    queue_.pop_front();
    lock.unlock();
    Run(id);
    lock.lock();
  }
}

}  // namespace gantry::agent
