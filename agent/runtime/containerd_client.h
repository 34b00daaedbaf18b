#pragma once

// The agent's connection to containerd: the gRPC stubs of the services it
// uses over one channel, a context per call that carries the agent's
// containerd namespace (and a lease when given) with a deadline, the
// translation of containerd's errors into statuses that say what to do,
// leases, and digest-checked reads from the content store.
//
// Leases: pull and create calls carry one, so what they make (half-written
// content, a snapshot no container owns yet) is safe from containerd's
// garbage collector until they finish, and collected if the agent dies
// halfway (every lease expires).
//
// Thread-safe: gRPC stubs are, and nothing else changes after construction.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/introspection/v1/introspection.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

namespace gantry::agent {

class ContainerdClient {
 public:
  struct Options {
    // Names the endpoint in error messages.
    std::string socket;
    std::string ns = "gantry";
    absl::Duration call_timeout = absl::Seconds(30);
  };

  // Dials containerd's unix socket.
  static std::shared_ptr<grpc::Channel> Dial(const std::string& socket);

  ContainerdClient(Options options, std::shared_ptr<grpc::Channel> channel);

  // A context for one call: the namespace, the lease when not empty, and
  // the call timeout (or `timeout` when given: waits that may last).
  std::unique_ptr<grpc::ClientContext> Context(
      const std::string& lease = "", absl::Duration timeout = absl::InfiniteDuration()) const;
  // OK, or containerd's error as a status naming `what`; an unreachable
  // containerd says where it was looked for.
  absl::Status Check(const grpc::Status& status, absl::string_view what) const;

  // A lease that is deleted when this goes, and expires after `expiry` if
  // the agent dies first.
  class Lease {
   public:
    Lease(const ContainerdClient* client, std::string id) : client_(client), id_(std::move(id)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    const std::string& id() const { return id_; }

   private:
    const ContainerdClient* const client_;
    const std::string id_;
  };
  absl::StatusOr<std::unique_ptr<Lease>> NewLease(absl::string_view purpose,
                                                  absl::Duration expiry) const;

  // A blob from the content store, checked against its digest.
  absl::StatusOr<std::string> ReadBlob(const std::string& digest) const;

  const std::string& ns() const { return options_.ns; }

  containerd::services::containers::v1::Containers::Stub& containers() const {
    return *containers_;
  }
  containerd::services::content::v1::Content::Stub& content() const { return *content_; }
  containerd::services::diff::v1::Diff::Stub& diff() const { return *diff_; }
  containerd::services::images::v1::Images::Stub& images() const { return *images_; }
  containerd::services::introspection::v1::Introspection::Stub& introspection() const {
    return *introspection_;
  }
  containerd::services::leases::v1::Leases::Stub& leases() const { return *leases_; }
  containerd::services::snapshots::v1::Snapshots::Stub& snapshots() const { return *snapshots_; }
  containerd::services::tasks::v1::Tasks::Stub& tasks() const { return *tasks_; }
  containerd::services::version::v1::Version::Stub& version() const { return *version_; }

 private:
  const Options options_;
  const std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<containerd::services::containers::v1::Containers::Stub> containers_;
  std::unique_ptr<containerd::services::content::v1::Content::Stub> content_;
  std::unique_ptr<containerd::services::diff::v1::Diff::Stub> diff_;
  std::unique_ptr<containerd::services::images::v1::Images::Stub> images_;
  std::unique_ptr<containerd::services::introspection::v1::Introspection::Stub> introspection_;
  std::unique_ptr<containerd::services::leases::v1::Leases::Stub> leases_;
  std::unique_ptr<containerd::services::snapshots::v1::Snapshots::Stub> snapshots_;
  std::unique_ptr<containerd::services::tasks::v1::Tasks::Stub> tasks_;
  std::unique_ptr<containerd::services::version::v1::Version::Stub> version_;
};

}  // namespace gantry::agent
