#pragma once

// One watch on etcd: a thread holding a Watch stream for one prefix. It
// delivers events revision by revision, reconnects after a broken stream
// (moving to the next member when the one in use is gone) and resumes after
// the last revision it delivered; when that history was compacted away it
// re-lists the prefix and hands the listing to the resync callback.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "controlplane/store/store.h"
#include "grpcpp/client_context.h"

namespace gantry::store {

class EtcdStore;

class EtcdWatch {
 public:
  EtcdWatch(EtcdStore* store, std::string prefix, int64_t after_revision, WatchCallback callback,
            ResyncCallback resync);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  void Start();
  // Ends the stream and joins the thread; no callback runs after it returns.
  void Stop();

  const std::string& prefix() const { return prefix_; }
  // The newest revision delivered (or the one it started after).
  int64_t delivered() const { return delivered_.load(); }
  // False once the watch gave up (history lost and nobody to resync).
  bool alive() const { return !ended_.load(); }

 private:
  void Run();
  // One stream from connect to its end; false when the watch must end.
  bool Stream();
  // Re-lists the prefix after lost history; false when it cannot.
  bool Resync();

  EtcdStore* const store_;
  const std::string prefix_;
  const WatchCallback callback_;
  const ResyncCallback resync_;
  std::atomic<int64_t> delivered_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> ended_{false};

  bool need_resync_ = false;  // the watch thread's own

  std::mutex context_mu_;
  std::condition_variable stop_cv_;         // cuts a backoff short
  grpc::ClientContext* context_ = nullptr;  // the open stream's, for Stop()
  std::thread thread_;
};

}  // namespace gantry::store
