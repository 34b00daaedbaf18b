#pragma once

// The control plane replicas a client knows (--controlplane a,b,c, or
// gantryctl's --server a,b,c) and which one it uses now. Agents must reach
// the leader; a replica that is not the leader refuses their stream with
// the leader's address in kLeaderMetadata, and the client moves there.
// Operators' calls go to any replica; on a failure the client moves on to
// the next one.
//
// Thread safety: all methods are thread-safe.

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry {

// Trailing metadata naming the leader (HOST:PORT) on a refused call.
inline constexpr char kLeaderMetadata[] = "gantry-leader";

class Endpoints {
 public:
  // "a:1,b:2"; `flag` names the flag in errors. Duplicates are dropped.
  static absl::StatusOr<Endpoints> Parse(absl::string_view list, absl::string_view flag);
  explicit Endpoints(std::vector<std::string> all);
  Endpoints(const Endpoints& other);
  Endpoints& operator=(const Endpoints& other);

  std::string Current() const;
  // After `failed` did not work: the next one in the list (no-op when
  // someone moved on already).
  void MoveOnFrom(const std::string& failed);
  // The leader told us where it is; adds it when it is not listed (a
  // replica the client was not told about).
  void MoveTo(const std::string& leader);
  std::vector<std::string> All() const;
  size_t size() const;
  // "a:1,b:2", for messages.
  std::string ToString() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> all_;
  size_t current_ = 0;
};

}  // namespace gantry
