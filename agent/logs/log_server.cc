#include "agent/logs/log_server.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/safe_id.h"

namespace gantry::agent {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 64 << 10;

std::string ReadRange(const std::string& path, int64_t from, int64_t to) {
  std::ifstream in(path, std::ios::binary);
  if (!in || to <= from) return "";
  in.seekg(from);
  std::string data(static_cast<size_t>(to - from), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

}  // namespace

LogServer::LogServer(LogDirFn log_dir, RunningFn running, Send send)
    : log_dir_(std::move(log_dir)), running_(std::move(running)), send_(std::move(send)) {}

LogServer::~LogServer() {
  CancelAll();
  std::vector<std::shared_ptr<Stream>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, s] : streams_) all.push_back(s);
    streams_.clear();
    all.insert(all.end(), finished_.begin(), finished_.end());
    finished_.clear();
  }
  for (auto& s : all) {
    if (s->thread.joinable()) s->thread.join();
  }
}

std::string LogServer::ReadTail(const std::string& path, int64_t lines, int64_t* offset) {
  const int64_t size = std::max<int64_t>(0, FileSize(path));
  *offset = size;
  std::string data = ReadRange(path + ".1", 0, std::max<int64_t>(0, FileSize(path + ".1")));
  data += ReadRange(path, 0, size);
  if (lines <= 0) return data;
  // Find the start of the last `lines` lines (a trailing newline does not
  // start another line).
  size_t pos = data.size();
  if (pos > 0 && data[pos - 1] == '\n') pos--;
  int64_t seen = 0;
  while (pos > 0) {
    if (data[pos - 1] == '\n' && ++seen == lines) break;
    pos--;
  }
  return data.substr(pos);
}

void LogServer::Open(const gantry::v1::LogRequest& request) {
  Reap();
  auto stream = std::make_shared<Stream>();
  std::unique_lock<std::mutex> lock(mu_);
  if (streams_.size() >= kMaxStreams) {
    lock.unlock();
    gantry::v1::LogData refused;
    refused.set_request_id(request.request_id());
    refused.set_eof(true);
    refused.set_error(absl::StrCat("this node already serves ", kMaxStreams,
                                   " log streams; try again when one has ended"));
    send_(refused);
    return;
  }
  streams_[request.request_id()] = stream;
  stream->thread = std::thread([this, request, stream] { Serve(request, stream); });
}

void LogServer::Cancel(int64_t request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(request_id);
  if (it == streams_.end()) return;
  it->second->cancelled = true;
  cv_.notify_all();
}

void LogServer::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, s] : streams_) s->cancelled = true;
  cv_.notify_all();
}

void LogServer::Reap() {
  std::vector<std::shared_ptr<Stream>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(finished_);
  }
  for (auto& s : done) {
    if (s->thread.joinable()) s->thread.join();
  }
}

void LogServer::Serve(gantry::v1::LogRequest request, std::shared_ptr<Stream> stream) {
  gantry::v1::LogData out;
  out.set_request_id(request.request_id());
  auto finish = [&](const std::string& error) {
    gantry::v1::LogData eof;
    eof.set_request_id(request.request_id());
    eof.set_eof(true);
    eof.set_error(error);
    if (!stream->cancelled) send_(eof);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(request.request_id());
    if (it != streams_.end() && it->second == stream) {
      finished_.push_back(stream);
      streams_.erase(it);
    }
  };
  auto send_data = [&](const std::string& data) {
    for (size_t i = 0; i < data.size() && !stream->cancelled; i += kChunk) {
      out.set_data(data.substr(i, kChunk));
      send_(out);
    }
  };

  // The id names a directory: refuse one that could lead outside the data dir.
  if (!IsSafePathId(request.task_id())) {
    return finish(absl::StrCat("\"", request.task_id().substr(0, 80), "\" is not a task id"));
  }
  const std::string dir = log_dir_(request.task_id());
  std::vector<std::string> containers;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".log") containers.push_back(entry.path().stem().string());
  }
  std::sort(containers.begin(), containers.end());
  if (containers.empty()) {
    return finish(absl::StrCat("no logs for task ", request.task_id().substr(0, 8),
                               " on this node (logs are kept for a while after a task stops)"));
  }
  std::string container = request.container();
  if (container.empty()) {
    if (containers.size() > 1) {
      return finish(absl::StrCat("task has containers ", absl::StrJoin(containers, ", "),
                                 "; choose one with --container"));
    }
    container = containers[0];
  } else if (std::find(containers.begin(), containers.end(), container) == containers.end()) {
    return finish(absl::StrCat("task has no container ", container, " (it has ",
                               absl::StrJoin(containers, ", "), ")"));
  }
  const std::string path = (fs::path(dir) / (container + ".log")).string();
  int64_t offset = 0;
  send_data(ReadTail(path, request.tail_lines(), &offset));

  while (request.follow() && !stream->cancelled) {
    const int64_t size = FileSize(path);
    if (size >= 0 && size < offset) offset = 0;  // rotated (copy-truncated)
    if (size > offset) {
      send_data(ReadRange(path, offset, size));
      offset = size;
      continue;
    }
    if (!running_(request.task_id())) break;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stream->cancelled.load(); });
  }
  finish("");
}

}  // namespace gantry::agent
