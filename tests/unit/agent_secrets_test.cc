// The agent's side of secrets on the fake runtime: values fetched once per
// start become environment variables and 0400 files bind-mounted read-only,
// an unreachable control plane leaves the task PENDING, a refusal stops it,
// and a task's files go when its containers do. No value reaches the
// agent's records.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/reconciler.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/test_dir.h"

namespace gantry::agent {
namespace {

using gantry::v1::Task;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kImage[] = "example.org/demo/busybox:1";

class FakeSecretSource final : public SecretSource {
 public:
  absl::StatusOr<gantry::v1::TaskSecrets> Fetch(const std::string& task_id) override {
    ++fetches;
    if (!answer.ok()) return answer;
    last_task = task_id;
    return secrets;
  }
  gantry::v1::TaskSecrets secrets;
  absl::Status answer = absl::OkStatus();
  std::string last_task;
  int fetches = 0;
};

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every byte of every file under `dir`.
std::string Everything(const std::filesystem::path& dir) {
  std::string out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) out += Slurp(e.path());
  }
  return out;
}

class AgentSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("agent-secrets");
    runtime_.AddImage(kImage);
    auto* pw = source_.secrets.add_secrets();
    pw->set_name("db-password");
    pw->set_version(2);
    pw->set_value("pw-marker-2");
    auto* key = source_.secrets.add_secrets();
    key->set_name("tls-key");
    key->set_version(1);
    key->set_value("key-marker-1");
    Reconciler::Options o;
    o.data_dir = (dir_ / "data").string();
    o.secrets_dir = (dir_ / "secrets").string();
    o.secrets_on_tmpfs = false;  // a unit test does not mount
    o.node_name = "n1";
    ImageManager::Options io;
    io.data_dir = o.data_dir;
    io.pull_threads = 0;
    images_ = std::make_unique<ImageManager>(&runtime_, &registry_, &clock_, io);
    health_ = std::make_unique<HealthMonitor>(&runtime_, &clock_, HealthMonitor::Options{0});
    reconciler_ = std::make_unique<Reconciler>(&runtime_, images_.get(), health_.get(), &clock_, o,
                                               [](const gantry::v1::TaskStatusReport&) {});
    reconciler_->SetSecretSource(&source_);
    ASSERT_TRUE(reconciler_->Recover().ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Desire(std::vector<gantry::v1::TaskAssignment> tasks) {
    gantry::v1::DesiredTasks d;
    d.set_sequence(++sequence_);
    for (auto& t : tasks) *d.add_tasks() = std::move(t);
    ASSERT_TRUE(reconciler_->SetDesired(d));
  }

  static gantry::v1::TaskAssignment WithSecrets(const std::string& id) {
    gantry::v1::TaskAssignment a;
    a.set_task_id(id);
    a.set_service("web");
    a.set_task_definition("web:1");
    auto* c = a.add_containers();
    c->set_name("app");
    c->set_image(kImage);
    c->set_memory(32 << 20);
    c->set_essential(true);
    auto* env = c->add_secrets();
    env->set_name("DB_PASSWORD");
    env->set_value_from("db-password");
    auto* file = c->add_secrets();
    file->set_file("/run/secrets/tls.key");
    file->set_value_from("tls-key:1");
    (*a.mutable_secret_versions())["db-password"] = 2;
    return a;
  }

  Task::Status StatusOf(const std::string& id, std::string* reason = nullptr) {
    for (const auto& ts : reconciler_->Snapshot()) {
      if (ts.task_id() != id) continue;
      if (reason != nullptr) *reason = ts.reason();
      return ts.status();
    }
    return Task::STATUS_UNSPECIFIED;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  FakeRuntime runtime_;
  FakeSecretSource source_;
  registry::RegistryClient registry_{registry::RegistryConfig()};
  std::unique_ptr<ImageManager> images_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<Reconciler> reconciler_;
  int64_t sequence_ = 0;
};

TEST_F(AgentSecretsTest, ValuesBecomeVariablesAndReadOnlyFiles) {
  Desire({WithSecrets("t1")});
  reconciler_->Tick();
  EXPECT_EQ(StatusOf("t1"), Task::RUNNING);
  EXPECT_EQ(source_.fetches, 1);
  EXPECT_EQ(source_.last_task, "t1");
  auto spec = runtime_.SpecOf("t1-app");
  ASSERT_TRUE(spec.has_value());
  EXPECT_THAT(spec->env, Contains("DB_PASSWORD=pw-marker-2"));
  ASSERT_EQ(spec->mounts.size(), 1u);
  EXPECT_EQ(spec->mounts[0].destination, "/run/secrets/tls.key");
  EXPECT_TRUE(spec->mounts[0].read_only);
  EXPECT_EQ(Slurp(spec->mounts[0].source), "key-marker-1");
  struct stat st {};
  ASSERT_EQ(stat(spec->mounts[0].source.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  // Nothing of either value in the agent's data dir (task records, logs).
  const std::string data = Everything(dir_ / "data");
  EXPECT_EQ(data.find("pw-marker"), std::string::npos);
  EXPECT_EQ(data.find("key-marker"), std::string::npos);
}

TEST_F(AgentSecretsTest, AnUnreachableControlPlaneLeavesTheTaskPending) {
  source_.answer = absl::UnavailableError("not connected to the control plane");
  Desire({WithSecrets("t1")});
  reconciler_->Tick();
  EXPECT_EQ(StatusOf("t1"), Task::PENDING);
  EXPECT_EQ(runtime_.creates(), 0);
  source_.answer = absl::OkStatus();
  reconciler_->Tick();
  EXPECT_EQ(StatusOf("t1"), Task::RUNNING);
}

TEST_F(AgentSecretsTest, ARefusalStopsTheTaskSayingWhy) {
  source_.answer = absl::PermissionDeniedError("node n1 may not read the secrets of task t1");
  Desire({WithSecrets("t1")});
  reconciler_->Tick();
  std::string reason;
  EXPECT_EQ(StatusOf("t1", &reason), Task::STOPPED);
  EXPECT_THAT(reason, HasSubstr("CannotPullSecretsError: node n1 may not read"));
  EXPECT_EQ(runtime_.creates(), 0);
}

TEST_F(AgentSecretsTest, AMissingVersionStopsTheTask) {
  source_.secrets.mutable_secrets(0)->set_version(1);  // not the pinned 2
  Desire({WithSecrets("t1")});
  reconciler_->Tick();
  std::string reason;
  EXPECT_EQ(StatusOf("t1", &reason), Task::STOPPED);
  EXPECT_THAT(reason, HasSubstr("no value for secret db-password version 2"));
}

TEST_F(AgentSecretsTest, FilesGoWhenTheTaskStops) {
  Desire({WithSecrets("t1")});
  reconciler_->Tick();
  ASSERT_TRUE(std::filesystem::exists(dir_ / "secrets" / "t1"));
  Desire({});
  reconciler_->Tick();
  reconciler_->Tick();
  EXPECT_EQ(runtime_.RunningIds().size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "secrets" / "t1"));
}

TEST_F(AgentSecretsTest, TasksWithoutSecretsFetchNothing) {
  auto a = WithSecrets("t1");
  a.mutable_containers(0)->clear_secrets();
  Desire({a});
  reconciler_->Tick();
  EXPECT_EQ(StatusOf("t1"), Task::RUNNING);
  EXPECT_EQ(source_.fetches, 0);
}

}  // namespace
}  // namespace gantry::agent
