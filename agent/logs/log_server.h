#pragma once

// Serves the control plane's log requests on the agent: reads a container's
// log file (and its rotated predecessor), optionally only the last N lines,
// and when following keeps sending what is appended until the task stops or
// the request is cancelled. One thread per open request, at most
// kMaxStreams at once: a request beyond that is refused with a message.
// Task ids are checked before they name a directory.
//
// Thread-safe.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "gantry/v1/agent.pb.h"

namespace gantry::agent {

class LogServer {
 public:
  using Send = std::function<void(const gantry::v1::LogData&)>;
  // Where a task's logs live, and whether it still runs (follow ends then).
  using LogDirFn = std::function<std::string(const std::string& task_id)>;
  using RunningFn = std::function<bool(const std::string& task_id)>;

  static constexpr size_t kMaxStreams = 32;

  LogServer(LogDirFn log_dir, RunningFn running, Send send);
  ~LogServer();

  void Open(const gantry::v1::LogRequest& request);
  void Cancel(int64_t request_id);
  void CancelAll();

  // Reads the last `lines` lines (0 = all) of the container's log, including
  // the rotated file. Returns the data and, through `offset`, the size of
  // the current file at reading time (where following continues).
  static std::string ReadTail(const std::string& path, int64_t lines, int64_t* offset);

 private:
  struct Stream {
    std::atomic<bool> cancelled{false};
    std::thread thread;
  };
  void Serve(gantry::v1::LogRequest request, std::shared_ptr<Stream> stream);
  void Reap();

  const LogDirFn log_dir_;
  const RunningFn running_;
  const Send send_;

  std::mutex mu_;
  std::condition_variable cv_;  // wakes followers on cancel
  std::map<int64_t, std::shared_ptr<Stream>> streams_;
  std::vector<std::shared_ptr<Stream>> finished_;
};

}  // namespace gantry::agent
