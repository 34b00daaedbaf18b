#pragma once

// How gantryctl prints objects: aligned tables for people, and JSON or YAML
// (protobuf's JSON mapping, so lowerCamelCase field names as in the API) for
// scripts.

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gantry/v1/operator.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace gantry::ctl {

enum class Format { kTable, kJson, kYaml };
absl::StatusOr<Format> ParseFormat(const std::string& text);

// JSON or YAML rendering of any message.
std::string ToJson(const google::protobuf::Message& message);
std::string ToYaml(const google::protobuf::Message& message);

// "2026-12-02 17:33:25 UTC", or "-" for an unset time.
std::string When(const google::protobuf::Timestamp& t);

// A table whose columns are as wide as their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  // Cells are shown with control characters escaped (terminal_text.h).
  void Add(std::vector<std::string> row);
  void Print(std::ostream& out, const std::string& indent = "") const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

void PrintServices(std::ostream& out, const std::vector<gantry::v1::Service>& services,
                   absl::Time now);
void PrintTasks(std::ostream& out, const std::vector<gantry::v1::Task>& tasks, absl::Time now,
                const std::string& indent = "");
void PrintNodes(std::ostream& out, const std::vector<gantry::v1::Node>& nodes, absl::Time now);
void PrintTaskDefinitions(std::ostream& out, const std::vector<gantry::v1::TaskDefinition>& tds,
                          absl::Time now);
void PrintImages(std::ostream& out, const std::vector<gantry::v1::NodeImage>& images,
                 absl::Time now);
// One line per rule: verbs, resources and name globs ("*" for every).
void PrintRoles(std::ostream& out, const std::vector<gantry::v1::Role>& roles);
void PrintControlPlanes(std::ostream& out,
                        const std::vector<gantry::v1::ControlPlaneReplica>& replicas,
                        absl::Time now);
void PrintEvents(std::ostream& out, const std::vector<gantry::v1::Event>& events,
                 const std::string& indent = "");

// One row per autoscaled service: bounds, count, last values and decision.
void PrintAutoscaling(std::ostream& out, const std::vector<gantry::v1::Service>& services,
                      absl::Time now);
void DescribeService(std::ostream& out, const gantry::v1::Service& service,
                     const std::vector<gantry::v1::Task>& tasks,
                     const std::vector<gantry::v1::Event>& events, absl::Time now);
void DescribeTask(std::ostream& out, const gantry::v1::Task& task,
                  const std::vector<gantry::v1::Event>& events, absl::Time now);
void DescribeNode(std::ostream& out, const gantry::v1::Node& node,
                  const std::vector<gantry::v1::Task>& tasks, absl::Time now);
void DescribeTaskDefinition(std::ostream& out, const gantry::v1::TaskDefinition& td);

// The text with control characters (and DEL) escaped as \n, \t or \xNN, so
// a terminal shows what a remote party sent instead of obeying it.
std::string Printable(absl::string_view text);

// "10.0.0.2:20001,10.0.0.2:20002"
std::string FormatPorts(const gantry::v1::Task& task);
std::string StatusName(gantry::v1::Task::Status status);

}  // namespace gantry::ctl
