#include "controlplane/identity/cluster_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"

namespace gantry::identity {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kDay = absl::Hours(24);

template <typename T>
T Must(absl::StatusOr<T> value) {
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *std::move(value) : T{};
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFile(const fs::path& path, const std::string& content) { std::ofstream(path) << content; }

mode_t Mode(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// The first certificate of a chain.
std::string Leaf(const std::string& chain) {
  const std::string end = "-----END CERTIFICATE-----\n";
  return chain.substr(0, chain.find(end) + end.size());
}

class ClusterPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "gantry-cluster-pki-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path pki_dir() const { return dir_ / "data" / "pki"; }

  ClusterPki::Options OnDisk(std::vector<std::string> advertise = {"10.0.0.1", "cp.example"}) {
    ClusterPki::Options options;
    options.data_dir = (dir_ / "data").string();
    options.advertise = std::move(advertise);
    return options;
  }

  std::unique_ptr<ClusterPki> Load(const ClusterPki::Options& options) {
    auto cp = ClusterPki::LoadOrCreate(options, &clock_);
    EXPECT_TRUE(cp.ok()) << cp.status();
    return cp.ok() ? std::move(*cp) : nullptr;
  }

  // An operator's CA and server certificate, written under dir_/own.
  ClusterPki::Options OwnPki() {
    fs::create_directories(dir_ / "own");
    own_ca_ = Must(pki::CreateCa("operator", clock_.Now(), 365 * kDay));
    const pki::KeyAndCert server =
        Must(pki::IssueServerCert(own_ca_, {"cp.corp.example"}, clock_.Now(), 30 * kDay));
    WriteFile(dir_ / "own" / "server.pem", server.cert_pem);
    WriteFile(dir_ / "own" / "server.key", server.key_pem);
    WriteFile(dir_ / "own" / "ca.pem", own_ca_.cert_pem);
    ClusterPki::Options options = OnDisk();
    options.tls_cert_file = (dir_ / "own" / "server.pem").string();
    options.tls_key_file = (dir_ / "own" / "server.key").string();
    options.tls_ca_file = (dir_ / "own" / "ca.pem").string();
    return options;
  }

  fs::path dir_;
  FakeClock clock_;
  pki::KeyAndCert own_ca_;
};

TEST_F(ClusterPkiTest, FirstStartCreatesPrivateFiles) {
  auto cp = Load(OnDisk());
  ASSERT_NE(cp, nullptr);
  EXPECT_EQ(Mode(pki_dir()), 0700u);
  EXPECT_EQ(Mode(pki_dir() / "ca.key"), 0600u);
  EXPECT_EQ(Mode(pki_dir() / "server.key"), 0600u);
  for (const char* name : {"ca.pem", "cluster-id", "server.pem"}) {
    EXPECT_TRUE(fs::exists(pki_dir() / name)) << name;
  }
  for (const auto& entry : fs::directory_iterator(pki_dir())) {
    EXPECT_FALSE(absl::EndsWith(entry.path().string(), ".tmp")) << entry.path();
  }
  EXPECT_TRUE(std::regex_match(cp->cluster_id(), std::regex("[0-9a-f]{32}"))) << cp->cluster_id();
  EXPECT_EQ(ReadFile(pki_dir() / "cluster-id"), cp->cluster_id() + "\n");
  EXPECT_EQ(ReadFile(pki_dir() / "ca.pem"), cp->ca_pem());
  const pki::CertInfo ca = Must(pki::ParseCert(cp->ca_pem()));
  EXPECT_TRUE(ca.is_ca);
  EXPECT_EQ(ca.subject.common_name, "Gantry cluster CA " + cp->cluster_id());
  EXPECT_EQ(ca.not_after, clock_.Now() + 3650 * kDay);
  EXPECT_EQ(cp->ca_hash(), Must(pki::Fingerprint(cp->ca_pem())));
  EXPECT_TRUE(cp->CanIssue());
}

TEST_F(ClusterPkiTest, ServerChainIsTheServerCertThenTheCa) {
  auto cp = Load(OnDisk());
  ASSERT_NE(cp, nullptr);
  const std::string& chain = cp->server_chain_pem();
  EXPECT_EQ(chain, ReadFile(pki_dir() / "server.pem") + cp->ca_pem());
  const pki::CertInfo server = Must(pki::ParseCert(chain));
  EXPECT_FALSE(server.is_ca);
  EXPECT_EQ(server.ip_addresses, std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(server.dns_names, std::vector<std::string>{"cp.example"});
  EXPECT_EQ(server.not_after, clock_.Now() + 365 * kDay);
  EXPECT_TRUE(pki::Verify(cp->ca_pem(), chain, clock_.Now()).ok());
  EXPECT_TRUE(pki::KeyMatchesCert(cp->server_key_pem(), chain).ok());
  EXPECT_EQ(Must(pki::PinnedCa({Leaf(chain), cp->ca_pem()}, cp->ca_hash(), clock_.Now())),
            cp->ca_pem());
}

TEST_F(ClusterPkiTest, SecondStartReusesEverything) {
  auto first = Load(OnDisk());
  auto second = Load(OnDisk({"cp.example", "10.0.0.1", "CP.example"}));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->cluster_id(), first->cluster_id());
  EXPECT_EQ(second->ca_pem(), first->ca_pem());
  EXPECT_EQ(second->ca_hash(), first->ca_hash());
  EXPECT_EQ(second->server_chain_pem(), first->server_chain_pem());
  EXPECT_EQ(second->server_key_pem(), first->server_key_pem());
}

TEST_F(ClusterPkiTest, NewAdvertisedAddressesReissueTheServerCertOnly) {
  auto first = Load(OnDisk({"10.0.0.1"}));
  auto second = Load(OnDisk({"10.0.0.1", "10.0.0.2"}));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->ca_pem(), first->ca_pem());
  EXPECT_EQ(second->cluster_id(), first->cluster_id());
  EXPECT_NE(second->server_chain_pem(), first->server_chain_pem());
  EXPECT_NE(second->server_key_pem(), first->server_key_pem());
  const pki::CertInfo server = Must(pki::ParseCert(second->server_chain_pem()));
  EXPECT_EQ(server.ip_addresses, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(ReadFile(pki_dir() / "server.key"), second->server_key_pem());
}

TEST_F(ClusterPkiTest, ServerCertNearTheEndOfItsLifeIsReissued) {
  auto first = Load(OnDisk());
  ASSERT_NE(first, nullptr);
  clock_.Advance(200 * kDay);  // 165 of 365 days left: kept
  auto kept = Load(OnDisk());
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->server_chain_pem(), first->server_chain_pem());
  clock_.Advance(100 * kDay);  // 65 days left: less than a third
  auto renewed = Load(OnDisk());
  ASSERT_NE(renewed, nullptr);
  EXPECT_NE(renewed->server_chain_pem(), first->server_chain_pem());
  EXPECT_EQ(renewed->ca_pem(), first->ca_pem());
  const pki::CertInfo server = Must(pki::ParseCert(renewed->server_chain_pem()));
  EXPECT_EQ(server.not_after, clock_.Now() + 365 * kDay);
}

TEST_F(ClusterPkiTest, ACaKeyThatDoesNotMatchIsRefused) {
  ASSERT_NE(Load(OnDisk()), nullptr);
  WriteFile(pki_dir() / "ca.key", Must(pki::GenerateKey()));
  auto cp = ClusterPki::LoadOrCreate(OnDisk(), &clock_);
  ASSERT_FALSE(cp.ok());
  EXPECT_TRUE(absl::StrContains(cp.status().message(), (pki_dir() / "ca.key").string()))
      << cp.status();
  EXPECT_TRUE(absl::StrContains(cp.status().message(), "restore the pki directory")) << cp.status();
}

TEST_F(ClusterPkiTest, AMissingCaKeyIsRefusedNotReplaced) {
  auto first = Load(OnDisk());
  ASSERT_NE(first, nullptr);
  fs::remove(pki_dir() / "ca.key");
  auto cp = ClusterPki::LoadOrCreate(OnDisk(), &clock_);
  ASSERT_FALSE(cp.ok());
  EXPECT_TRUE(absl::StrContains(cp.status().message(), (pki_dir() / "ca.key").string()))
      << cp.status();
  EXPECT_EQ(ReadFile(pki_dir() / "ca.pem"), first->ca_pem());
}

TEST_F(ClusterPkiTest, ALostClusterIdIsRecoveredFromTheCa) {
  auto first = Load(OnDisk());
  ASSERT_NE(first, nullptr);
  fs::remove(pki_dir() / "cluster-id");
  auto second = Load(OnDisk());
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->cluster_id(), first->cluster_id());
  EXPECT_EQ(ReadFile(pki_dir() / "cluster-id"), first->cluster_id() + "\n");
  WriteFile(pki_dir() / "cluster-id", "someone-else\n");
  EXPECT_FALSE(ClusterPki::LoadOrCreate(OnDisk(), &clock_).ok());
}

TEST_F(ClusterPkiTest, LooseModesAreTightened) {
  ASSERT_NE(Load(OnDisk()), nullptr);
  fs::permissions(pki_dir(), fs::perms::all);
  fs::permissions(pki_dir() / "ca.key", fs::perms::owner_read | fs::perms::others_read);
  ASSERT_NE(Load(OnDisk()), nullptr);
  EXPECT_EQ(Mode(pki_dir()), 0700u);
  EXPECT_EQ(Mode(pki_dir() / "ca.key"), 0600u);
}

TEST_F(ClusterPkiTest, InMemoryModeWritesNothing) {
  ClusterPki::Options options;
  auto cp = Load(options);
  ASSERT_NE(cp, nullptr);
  EXPECT_TRUE(fs::is_empty(dir_));
  EXPECT_TRUE(cp->CanIssue());
  EXPECT_TRUE(std::regex_match(cp->cluster_id(), std::regex("[0-9a-f]{32}")));
  const pki::CertInfo server = Must(pki::ParseCert(cp->server_chain_pem()));
  EXPECT_EQ(server.ip_addresses, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(server.dns_names, std::vector<std::string>{"localhost"});
  EXPECT_TRUE(pki::Verify(cp->ca_pem(), cp->server_chain_pem(), clock_.Now()).ok());
  EXPECT_NE(Load(options)->ca_pem(), cp->ca_pem());
}

TEST_F(ClusterPkiTest, IssueNodeCertNamesTheNodeWhateverTheCsrAsks) {
  auto cp = Load(OnDisk());
  ASSERT_NE(cp, nullptr);
  const std::string key = Must(pki::GenerateKey());
  const std::string csr = Must(pki::CreateCsr(key, {"admin", "gantry:role:admin"}));
  const std::string cert = Must(cp->IssueNodeCert(csr, "node", 7 * kDay));
  EXPECT_TRUE(pki::Verify(cp->ca_pem(), cert, clock_.Now()).ok());
  EXPECT_TRUE(pki::KeyMatchesCert(key, cert).ok());
  const pki::CertInfo info = Must(pki::ParseCert(cert));
  EXPECT_EQ(info.subject.common_name, "node");
  EXPECT_EQ(info.subject.organization, "gantry:node");
  EXPECT_EQ(info.not_after, clock_.Now() + 7 * kDay);
  EXPECT_EQ(cp->IssueNodeCert("garbage", "node", kDay).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cp->IssueNodeCert(csr, "", kDay).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClusterPkiTest, OwnPkiUsesTheOperatorsFilesAndCannotIssue) {
  const ClusterPki::Options options = OwnPki();
  auto cp = Load(options);
  ASSERT_NE(cp, nullptr);
  EXPECT_FALSE(fs::exists(pki_dir()));
  EXPECT_FALSE(cp->CanIssue());
  EXPECT_EQ(cp->ca_pem(), own_ca_.cert_pem);
  EXPECT_EQ(cp->server_chain_pem(), ReadFile(options.tls_cert_file));
  EXPECT_EQ(cp->server_key_pem(), ReadFile(options.tls_key_file));
  EXPECT_EQ(cp->ca_hash(), Must(pki::Fingerprint(own_ca_.cert_pem)));
  EXPECT_EQ(cp->cluster_id(), cp->ca_hash().substr(7, 32));
  const std::string csr = Must(pki::CreateCsr(Must(pki::GenerateKey()), {"node", ""}));
  EXPECT_EQ(cp->IssueNodeCert(csr, "node", kDay).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClusterPkiTest, OwnPkiRefusesAKeyThatDoesNotMatch) {
  const ClusterPki::Options options = OwnPki();
  WriteFile(options.tls_key_file, Must(pki::GenerateKey()));
  auto cp = ClusterPki::LoadOrCreate(options, &clock_);
  ASSERT_FALSE(cp.ok());
  EXPECT_TRUE(absl::StrContains(cp.status().message(), "--tls-key " + options.tls_key_file))
      << cp.status();
}

TEST_F(ClusterPkiTest, OwnPkiNamesTheFlagOfAMissingOrBadFile) {
  ClusterPki::Options options = OwnPki();
  fs::remove(options.tls_ca_file);
  auto missing = ClusterPki::LoadOrCreate(options, &clock_);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "--tls-ca " + options.tls_ca_file))
      << missing.status();
  options = OwnPki();
  WriteFile(options.tls_cert_file, "not a certificate");
  auto bad = ClusterPki::LoadOrCreate(options, &clock_);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "--tls-cert " + options.tls_cert_file))
      << bad.status();
}

TEST_F(ClusterPkiTest, OwnPkiNeedsAllThreeFiles) {
  ClusterPki::Options options = OwnPki();
  options.tls_key_file.clear();
  EXPECT_EQ(ClusterPki::LoadOrCreate(options, &clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::identity
