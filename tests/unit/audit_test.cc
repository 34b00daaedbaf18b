// The audit log: the in-memory window and its queries, the JSON-lines file
// and its rotation, and what the API edge chooses to record.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "common/clock.h"
#include "controlplane/api/audit_records.h"
#include "controlplane/api/audit_trail.h"
#include "controlplane/audit/audit_file.h"
#include "controlplane/audit/audit_json.h"
#include "controlplane/audit/audit_log.h"

namespace gantry::audit {
namespace {

namespace fs = std::filesystem;

Entry Made(const std::string& identity, const std::string& method, const std::string& object) {
  Entry e;
  e.identity_kind = "token";
  e.identity = identity;
  e.accessor = "acc-" + identity;
  e.role = "deployer";
  e.peer = "127.0.0.1:40000";
  e.method = method;
  e.object = object;
  e.outcome = "OK";
  return e;
}

// Keeps what it is given, or fails on demand.
class MemorySink final : public Sink {
 public:
  explicit MemorySink(std::vector<Entry>* kept, bool* fail) : kept_(kept), fail_(fail) {}
  absl::Status Write(const Entry& entry) override {
    if (*fail_) return absl::InternalError("disk full");
    kept_->push_back(entry);
    return absl::OkStatus();
  }

 private:
  std::vector<Entry>* kept_;
  bool* fail_;
};

TEST(AuditLogTest, StampsEntriesWithTheClockAndWritesThemToTheSink) {
  FakeClock clock;
  std::vector<Entry> kept;
  bool fail = false;
  AuditLog log(&clock, std::make_unique<MemorySink>(&kept, &fail));
  log.Record(Made("ci", "ScaleService", "services/web"));
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].time, clock.Now());
  EXPECT_EQ(kept[0].method, "ScaleService");
  EXPECT_EQ(log.Find({}), kept);
}

TEST(AuditLogTest, AFailingSinkDoesNotLoseTheEntryFromMemory) {
  FakeClock clock;
  std::vector<Entry> kept;
  bool fail = true;
  AuditLog log(&clock, std::make_unique<MemorySink>(&kept, &fail));
  log.Record(Made("ci", "Apply", "services/web"));
  fail = false;
  log.Record(Made("ci", "Apply", "services/db"));
  EXPECT_EQ(kept.size(), 1u);
  EXPECT_EQ(log.Find({}).size(), 2u);
}

TEST(AuditLogTest, FindsBySinceIdentityAndLimitOldestFirst) {
  FakeClock clock;
  AuditLog log(&clock, nullptr);
  log.Record(Made("alice", "Apply", "services/a"));
  clock.Advance(absl::Minutes(10));
  const absl::Time later = clock.Now();
  log.Record(Made("bob", "Apply", "services/b"));
  clock.Advance(absl::Minutes(1));
  log.Record(Made("alice", "ScaleService", "services/c"));
  clock.Advance(absl::Minutes(1));
  log.Record(Made("alice", "DeleteService", "services/d"));

  Query since;
  since.since = later;
  auto found = log.Find(since);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].object, "services/b");

  Query alice;
  alice.identity = "alice";
  found = log.Find(alice);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[2].object, "services/d");

  Query by_accessor;
  by_accessor.identity = "acc-bob";
  EXPECT_EQ(log.Find(by_accessor).size(), 1u);

  Query newest;
  newest.limit = 2;
  found = log.Find(newest);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].object, "services/c");
  EXPECT_EQ(found[1].object, "services/d");
}

TEST(AuditLogTest, TheWindowIsBoundedAndPrimedWithRecoveredEntries) {
  FakeClock clock;
  std::vector<Entry> recovered = {Made("old1", "Apply", "x"), Made("old2", "Apply", "y")};
  AuditLog log(&clock, nullptr, /*window=*/3, recovered);
  EXPECT_EQ(log.Find({}).size(), 2u);
  log.Record(Made("new1", "Apply", "z"));
  log.Record(Made("new2", "Apply", "w"));
  auto found = log.Find({});
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].identity, "old2");
  EXPECT_EQ(found[2].identity, "new2");
}

TEST(AuditJsonTest, RoundTripsAndLeavesOutEmptyFields) {
  Entry e = Made("ci \"web\"\n", "ScaleService", "services/web");
  e.time = absl::FromUnixMillis(1'764'662'400'123);
  e.outcome = "PERMISSION_DENIED";
  e.message = "token \"ci\" (role deployer) may not scale service db";
  e.role = "";
  const std::string line = ToJsonLine(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_TRUE(absl::StrContains(line, "\"time\":\"2025-12-02T08:00:00.123Z\"")) << line;
  EXPECT_FALSE(absl::StrContains(line, "\"role\"")) << line;
  auto back = FromJsonLine(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
}

TEST(AuditJsonTest, RefusesLinesThatAreNotEntries) {
  EXPECT_FALSE(FromJsonLine("not json").ok());
  EXPECT_FALSE(FromJsonLine("[1,2]").ok());
  EXPECT_FALSE(FromJsonLine(R"({"method":"Apply"})").ok());
  EXPECT_FALSE(FromJsonLine(R"({"time":"yesterday"})").ok());
}

class AuditFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "gantry-audit-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = (fs::path(dir_) / "audit.log").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::vector<std::string> Lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  static int Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  std::string dir_, path_;
};

TEST_F(AuditFileTest, AppendsOneJsonLinePerEntryInAPrivateFile) {
  auto file = AuditFile::Open({path_});
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Write(Made("a", "Apply", "services/a")).ok());
  ASSERT_TRUE((*file)->Write(Made("b", "Apply", "services/b")).ok());
  EXPECT_EQ(Mode(path_), 0600);
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(FromJsonLine(lines[1])->identity, "b");
}

TEST_F(AuditFileTest, AnExistingFileIsMadePrivateAndAppendedTo) {
  { std::ofstream(path_) << ToJsonLine(Made("earlier", "Apply", "x")) << "\n"; }
  chmod(path_.c_str(), 0644);
  auto file = AuditFile::Open({path_});
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(Mode(path_), 0600);
  ASSERT_TRUE((*file)->Write(Made("now", "Apply", "y")).ok());
  EXPECT_EQ(Lines(path_).size(), 2u);
}

TEST_F(AuditFileTest, RotatesBySizeAndKeepsOnlyTheNewestCopies) {
  AuditFile::Options options{path_, /*max_bytes=*/4096, /*max_files=*/2};
  auto file = AuditFile::Open(options);
  ASSERT_TRUE(file.ok()) << file.status();
  const std::string line = ToJsonLine(Made("x", "Apply", "services/x")) + "\n";
  const int per_file = static_cast<int>(4096 / line.size());
  for (int i = 0; i < per_file * 5; ++i) {
    ASSERT_TRUE((*file)->Write(Made("x", "Apply", "services/x")).ok());
  }
  EXPECT_TRUE(fs::exists(path_ + ".1"));
  EXPECT_TRUE(fs::exists(path_ + ".2"));
  EXPECT_FALSE(fs::exists(path_ + ".3"));
  for (const std::string& p : {path_, path_ + ".1", path_ + ".2"}) {
    EXPECT_LE(fs::file_size(p), 4096u) << p;
    EXPECT_EQ(Mode(p), 0600) << p;
  }
  EXPECT_EQ(static_cast<int>(Lines(path_ + ".1").size()), per_file);
}

TEST_F(AuditFileTest, ReadTailReturnsTheNewestEntriesAndSkipsAPartialFirstLine) {
  auto file = AuditFile::Open({path_});
  ASSERT_TRUE(file.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*file)->Write(Made("n" + std::to_string(i), "Apply", "x")).ok());
  }
  { std::ofstream(path_, std::ios::app) << "garbage line\n"; }
  auto tail = AuditFile::ReadTail(path_, 10);
  ASSERT_TRUE(tail.ok()) << tail.status();
  ASSERT_EQ(tail->size(), 10u);
  EXPECT_EQ(tail->front().identity, "n40");
  EXPECT_EQ(tail->back().identity, "n49");
  // Reading from the middle of a line drops that fragment, not an entry.
  const int64_t line = static_cast<int64_t>(ToJsonLine(Made("n10", "Apply", "x")).size()) + 1;
  auto cut = AuditFile::ReadTail(path_, 100, line * 5 + line / 2 + 13);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->size(), 5u);
  EXPECT_TRUE(AuditFile::ReadTail(path_ + ".absent", 10)->empty());
}

TEST(AuditTrailTest, NamesEveryObjectOnceAndCapsLongLists) {
  using identity::Permission;
  using identity::Verb;
  EXPECT_EQ(api::ObjectsOf({{Verb::kApply, "taskdefinitions", "web"},
                            {Verb::kApply, "services", "web"},
                            {Verb::kApply, "services", "web"}}),
            "taskdefinitions/web, services/web");
  EXPECT_EQ(api::ObjectsOf({{Verb::kCreate, "tokens", ""}}), "tokens");
  std::vector<Permission> many;
  for (int i = 0; i < 25; ++i) many.push_back({Verb::kApply, "services", std::to_string(i)});
  EXPECT_TRUE(absl::EndsWith(api::ObjectsOf(many), "services/19 (+5 more)"));
}

TEST(AuditTrailTest, RecordsRegistrationsByTheCertifiedNode) {
  FakeClock clock;
  AuditLog log(&clock, nullptr);
  api::AuditTrail trail(&log);
  trail.Registration("10.0.0.9:5000", "na", "nb",
                     absl::PermissionDeniedError("this node's certificate names node \"na\""));
  auto found = log.Find({});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].identity_kind, "node");
  EXPECT_EQ(found[0].identity, "na");
  EXPECT_EQ(found[0].object, "nodes/nb");
  EXPECT_EQ(found[0].method, "Connect");
  EXPECT_EQ(found[0].outcome, "PERMISSION_DENIED");
  EXPECT_EQ(found[0].peer, "10.0.0.9:5000");
}

TEST(AuditRecordsTest, TranslatesQueriesAndRefusesBadLimits) {
  FakeClock clock;
  AuditLog log(&clock, nullptr);
  for (int i = 0; i < 5; ++i) log.Record(Made("ci", "Apply", std::to_string(i)));
  gantry::v1::ListAuditRecordsRequest req;
  req.set_limit(2);
  auto out = api::ListAuditRecordsFrom(&log, req);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->records_size(), 2);
  EXPECT_EQ(out->records(1).object(), "4");
  req.set_limit(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(api::ListAuditRecordsFrom(&log, req).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(api::ListAuditRecordsFrom(nullptr, {}).status()));
}

}  // namespace
}  // namespace gantry::audit
