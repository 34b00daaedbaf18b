#pragma once

// gantryctl's reads: `get` (lists and single objects as tables, JSON or
// YAML) and `describe` (one object with its tasks and events). Each returns
// the process exit code.

#include <string>

#include "ctl/connection.h"

namespace gantry::ctl {

class Inspect {
 public:
  explicit Inspect(Connection& c) : c_(c) {}

  int Get(const std::string& kind, const std::string& name, const std::string& service,
          const std::string& node, bool all);
  int Describe(const std::string& kind, const std::string& name);

 private:
  int GetControlPlanes(absl::Time now);
  int GetServices(const std::string& name, absl::Time now);
  int GetAutoscaling(const std::string& name, absl::Time now);
  int GetTasks(const std::string& id, const std::string& service, const std::string& node, bool all,
               absl::Time now);
  int GetNodes(const std::string& name, absl::Time now);
  int GetTaskDefinitions(const std::string& name, absl::Time now);
  int GetImages(const std::string& node, absl::Time now);
  int DescribeService(const std::string& name, absl::Time now);
  int DescribeServiceIngress(const gantry::v1::Service& service,
                             const google::protobuf::RepeatedPtrField<gantry::v1::Task>& tasks);
  int GetNetworkAcls(const std::string& name);
  int DescribeTask(const std::string& id, absl::Time now);
  int DescribeNode(const std::string& name, absl::Time now);
  int DescribeTaskDefinition(const std::string& reference);

  Connection& c_;
};

}  // namespace gantry::ctl
