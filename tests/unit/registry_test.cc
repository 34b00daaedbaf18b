#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/time/clock.h"
#include "agent/runtime/oci_spec.h"
#include "common/pki.h"
#include "common/registry/auth.h"
#include "common/registry/manifest.h"
#include "common/registry/reference.h"
#include "common/registry/registry_client.h"
#include "common/registry/registry_config.h"
#include "tests/fakes/fake_http_server.h"

namespace gantry::registry {
namespace {

using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(Reference, FullForms) {
  auto r = ParseReference("127.0.0.1:5000/demo/web:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "demo/web");
  EXPECT_EQ(r->tag, "1");
  EXPECT_EQ(r->String(), "127.0.0.1:5000/demo/web:1");
  r = ParseReference("registry.example.org/team/app@" + kDigest);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->digest, kDigest);
  EXPECT_EQ(r->ManifestRef(), kDigest);
  EXPECT_EQ(r->String(), "registry.example.org/team/app@" + kDigest);
  r = ParseReference("localhost/app");
  EXPECT_EQ(r->registry, "localhost");
  EXPECT_EQ(r->tag, "latest");
}

TEST(Reference, DockerHubShortForms) {
  auto r = ParseReference("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "docker.io");
  EXPECT_EQ(r->repository, "library/busybox");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->ApiHost(), "registry-1.docker.io");
  r = ParseReference("team/app:2");
  EXPECT_EQ(r->repository, "team/app");
  EXPECT_EQ(r->tag, "2");
}

TEST(Reference, PinningDropsTheTag) {
  auto r = ParseReference("127.0.0.1:5000/demo/web:1");
  EXPECT_EQ(r->WithDigest(kDigest).String(), "127.0.0.1:5000/demo/web@" + kDigest);
}

TEST(Reference, Rejects) {
  for (const char* bad : {"", "UPPER/case", "app@sha256:short", "app:", "a//b", "app:-x"}) {
    EXPECT_FALSE(ParseReference(bad).ok()) << bad;
  }
}

TEST(Challenge, BearerAndBasic) {
  auto c = ParseChallenge(
      R"(Bearer realm="https://auth.example.org/token",service="registry.example.org",scope="repository:a/b:pull")");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example.org/token");
  EXPECT_EQ(c->params["service"], "registry.example.org");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull");
  c = ParseChallenge(R"(Basic realm="Registry Realm")");
  EXPECT_EQ(c->scheme, "basic");
  EXPECT_EQ(c->params["realm"], "Registry Realm");
  EXPECT_FALSE(ParseChallenge(R"(Bearer realm="unterminated)").ok());
  EXPECT_FALSE(ParseChallenge("").ok());
}

TEST(Manifest, SelectsLinuxAmd64FromAnIndex) {
  const std::string index =
      R"({"schemaVersion":2,"manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
      std::string(64, 'b') + R"(","size":10,"platform":{"os":"linux","architecture":"arm64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
      std::string(64, 'c') + R"(","size":11,"platform":{"os":"linux","architecture":"amd64"}}]})";
  EXPECT_EQ(DeclaredMediaType(index, ""), kOciIndex);
  auto entries = ParseIndex(index);
  ASSERT_TRUE(entries.ok());
  auto chosen = SelectPlatform(*entries, "linux", "amd64");
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->digest, "sha256:" + std::string(64, 'c'));
  auto none = SelectPlatform(*entries, "linux", "s390x");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("linux/arm64, linux/amd64"));
}

TEST(Manifest, SelectsLinuxAmd64FromADockerManifestList) {
  const std::string list = std::string(R"({"schemaVersion":2,"mediaType":")") + kDockerList +
                           R"(","manifests":[
    {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:)" +
                           std::string(64, 'd') +
                           R"(","size":10,"platform":{"os":"windows","architecture":"amd64"}},
    {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:)" +
                           std::string(64, 'e') +
                           R"(","size":11,"platform":{"os":"linux","architecture":"amd64"}}]})";
  EXPECT_EQ(DeclaredMediaType(list, ""), kDockerList);
  EXPECT_TRUE(IsIndexType(kDockerList));
  auto entries = ParseIndex(list);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto chosen = SelectPlatform(*entries, "linux", "amd64");
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->digest, "sha256:" + std::string(64, 'e'));
}

TEST(Manifest, ParsesOciAndDockerManifests) {
  const std::string body = R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kDigest +
                           R"(","size":3},"layers":[{"mediaType":"y","digest":")" + kDigest +
                           R"(","size":5}]})";
  auto m = ParseManifest(body, kDockerManifest);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 5);
  auto oci = ParseManifest(body, kOciManifest);
  ASSERT_TRUE(oci.ok()) << oci.status();
  EXPECT_EQ(oci->media_type, kOciManifest);
  EXPECT_EQ(oci->config.digest, kDigest);
  EXPECT_FALSE(ParseManifest(R"({"schemaVersion":1})", kDockerManifest).ok());
  EXPECT_FALSE(ParseManifest(body, "application/vnd.docker.distribution.manifest.v1+json").ok());
}

// Found by tests/fuzz/registry_fuzz: fields of another type than expected
// threw out of the parsers (a registry's answer could end the process).
TEST(Manifest, FieldsOfTheWrongTypeAreErrorsNotCrashes) {
  EXPECT_FALSE(ParseManifest(R"({"schemaVersion":[{"size":100}]})", kDockerManifest).ok());
  EXPECT_FALSE(ParseManifest(R"({"schemaVersion":2,"mediaType":7})", kDockerManifest).ok());
  auto index = ParseIndex(R"({"manifests":[{"digest":")" + kDigest +
                          R"(","size":1,"mediaType":[],"platform":{"os":1}}]})");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)[0].media_type, "");
  EXPECT_EQ((*index)[0].os, "");
  EXPECT_EQ(RegistryError(500, R"({"errors":[{"message":3,"code":{}}]})").code(),
            absl::StatusCode::kUnavailable);
}

TEST(RegistryError, QuotesTheRegistry) {
  auto st = RegistryError(
      404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "manifest unknown");
  EXPECT_EQ(RegistryError(503, "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(RegistryError(401, "").code(), absl::StatusCode::kPermissionDenied);
}

// A registry that wants a bearer token from its own token endpoint, which
// wants basic credentials.
class RegistryClientTest : public ::testing::Test {
 protected:
  RegistryClientTest()
      : server_([this](const gantry::testing::HttpRequest& r) { return Handle(r); }) {}

  gantry::testing::HttpResponse Handle(const gantry::testing::HttpRequest& r) {
    if (r.path.rfind("/", 0) == 0) requests_++;  // a TLS hello parses as junk
    gantry::testing::HttpResponse resp;
    if (r.path.rfind("/token", 0) == 0) {
      token_requests_++;
      last_token_query_ = r.path;
      if (r.headers.count("authorization") == 0 ||
          r.headers.at("authorization") != "Basic " + std::string("Y2k6czNjcmV0")) {
        resp.code = 401;
        return resp;
      }
      // Tokens are scoped to one repository.
      resp.body = r.path.find("demo%2Fapi") != std::string::npos ? R"({"token":"t0k3n-api"})"
                                                                 : R"({"token":"t0k3n"})";
      return resp;
    }
    const bool api = r.path.rfind("/v2/demo/api/", 0) == 0;
    auto auth = r.headers.find("authorization");
    if (auth == r.headers.end() || auth->second != (api ? "Bearer t0k3n-api" : "Bearer t0k3n")) {
      resp.code = 401;
      resp.headers["WWW-Authenticate"] =
          "Bearer realm=\"http://" + server_.address() + "/token\",service=\"test\"";
      resp.body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
      return resp;
    }
    if (r.path == "/v2/demo/web/manifests/1" || r.path == "/v2/demo/api/manifests/1") {
      resp.headers["Content-Type"] = kOciManifest;
      resp.body = manifest_;
      return resp;
    }
    if (r.path == "/v2/demo/web/manifests/9") {
      resp.code = 404;
      resp.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})";
      return resp;
    }
    if (r.path.rfind("/v2/demo/web/blobs/", 0) == 0) {
      resp.body = blob_;
      resp.truncate_to = truncate_;
      return resp;
    }
    resp.code = 404;
    return resp;
  }

  RegistryClient Client(bool with_credentials = true) {
    RegistryConfig config;
    RegistryHostConfig host;
    host.insecure = true;
    if (with_credentials) {
      host.username = "ci";
      host.password = "s3cret";
    }
    config.hosts[server_.address()] = host;
    config.stall_timeout = absl::Seconds(5);
    return RegistryClient(config);
  }

  Reference Ref(const std::string& tag) {
    return *ParseReference(server_.address() + "/demo/web:" + tag);
  }

  std::string manifest_ =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  std::string blob_ = "layer bytes";
  size_t truncate_ = std::string::npos;
  int token_requests_ = 0;
  int requests_ = 0;  // HTTP requests the fake registry could read
  std::string last_token_query_;
  gantry::testing::FakeHttpServer server_;
};

TEST_F(RegistryClientTest, BearerFlowWithBasicCredentialsAtTheTokenService) {
  auto client = Client();
  auto m = client.GetManifest(Ref("1"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->body, manifest_);
  EXPECT_EQ(m->digest, agent::Sha256Digest(manifest_));
  EXPECT_EQ(m->media_type, kOciManifest);
  EXPECT_THAT(last_token_query_, HasSubstr("service=test"));
  EXPECT_THAT(last_token_query_, HasSubstr("scope=repository%3Ademo%2Fweb%3Apull"));
  // The token is reused.
  ASSERT_TRUE(client.GetManifest(Ref("1")).ok());
  EXPECT_EQ(token_requests_, 1);
}

TEST_F(RegistryClientTest, TokensAreKeptPerRepository) {
  auto client = Client();
  const Reference api = *ParseReference(server_.address() + "/demo/api:1");
  ASSERT_TRUE(client.GetManifest(Ref("1")).ok());
  ASSERT_TRUE(client.GetManifest(api).ok());
  // Each repository keeps its own token: alternating pulls (as two pull
  // threads do) fetch no new ones.
  ASSERT_TRUE(client.GetManifest(Ref("1")).ok());
  ASSERT_TRUE(client.GetManifest(api).ok());
  EXPECT_EQ(token_requests_, 2);
}

TEST_F(RegistryClientTest, WrongOrMissingCredentialsArePermissionDenied) {
  auto client = Client(/*with_credentials=*/false);
  auto m = client.GetManifest(Ref("1"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(m.status().message()), ::testing::Not(HasSubstr("s3cret")));
}

TEST_F(RegistryClientTest, QuotesManifestUnknown) {
  auto client = Client();
  auto m = client.GetManifest(Ref("9"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m.status().message(), "manifest unknown");
}

TEST_F(RegistryClientTest, BlobsAreVerified) {
  auto client = Client();
  Descriptor d{"", agent::Sha256Digest(blob_), static_cast<int64_t>(blob_.size())};
  std::string got;
  auto sink = [&](absl::string_view chunk) {
    got.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  };
  ASSERT_TRUE(client.FetchBlob(Ref("1"), d, sink).ok());
  EXPECT_EQ(got, blob_);

  // Corrupt: the digest does not match.
  Descriptor wrong = d;
  wrong.digest = kDigest;
  auto st = client.FetchBlob(Ref("1"), wrong, sink);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(st.message()), HasSubstr("does not match its digest"));

  // Truncated: the connection closes early.
  truncate_ = 4;
  st = client.FetchBlob(Ref("1"), d, sink);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(absl::IsDataLoss(st) || absl::IsUnavailable(st)) << st;
}

TEST_F(RegistryClientTest, HttpsUnlessTheRegistryIsListedInsecure) {
  // The fake registry speaks plain HTTP; without `insecure` the client
  // insists on TLS (verified against the system CA store) and so fails.
  RegistryConfig config;
  config.hosts[server_.address()].username = "ci";
  config.hosts[server_.address()].password = "s3cret";
  config.connect_timeout = absl::Seconds(1);
  config.request_timeout = absl::Seconds(1);
  config.stall_timeout = absl::Seconds(1);
  RegistryClient client(config);
  auto m = client.GetManifest(Ref("1"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(requests_, 0) << "no plain HTTP request, credentials least of all";
  // Listed as insecure, the same registry answers over HTTP.
  EXPECT_TRUE(Client().GetManifest(Ref("1")).ok());
}

TEST(RegistryClient, UnreachableRegistryIsUnavailable) {
  RegistryConfig config;
  config.hosts["127.0.0.1:1"].insecure = true;
  config.connect_timeout = absl::Seconds(2);
  RegistryClient client(config);
  auto m = client.GetManifest(*ParseReference("127.0.0.1:1/demo/web:1"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  // It says which host, what happened and what to check, not only libcurl's words.
  EXPECT_EQ(m.status().message(),
            "cannot connect to 127.0.0.1:1 (Couldn't connect to server): is the registry "
            "running, and can this host reach it?");
}

TEST(TransferError, NamesTheHostAndWhatToCheck) {
  EXPECT_EQ(
      TransferError("https://reg.example.org/v2/demo/web/manifests/1", CURLE_COULDNT_RESOLVE_HOST)
          .message(),
      "cannot resolve reg.example.org (Couldn't resolve host name): check the name in the "
      "image reference and this host's DNS");
  EXPECT_EQ(
      TransferError("http://127.0.0.1:5000/v2/demo/web/blobs/sha256:ab", CURLE_OPERATION_TIMEDOUT)
          .message(),
      "no answer from 127.0.0.1:5000 in time (Timeout was reached)");
  const absl::Status untrusted =
      TransferError("https://reg.example.org/v2/x", CURLE_PEER_FAILED_VERIFICATION);
  EXPECT_EQ(untrusted.code(), absl::StatusCode::kFailedPrecondition) << "not retried";
  EXPECT_THAT(std::string(untrusted.message()),
              ::testing::StartsWith("the certificate of reg.example.org is not trusted ("));
  EXPECT_THAT(std::string(untrusted.message()), HasSubstr("caFile"));
  const absl::Status cut = TransferError("http://127.0.0.1:5000/v2/x", CURLE_PARTIAL_FILE);
  EXPECT_EQ(cut.code(), absl::StatusCode::kUnavailable) << "retried";
  EXPECT_EQ(cut.message(), "request to 127.0.0.1:5000 failed: Transferred a partial file");
  // Credentials in a URL (a token realm) never reach the message.
  EXPECT_THAT(
      std::string(TransferError("https://u:pw@auth.example.org/token?x=1", CURLE_COULDNT_CONNECT)
                      .message()),
      ::testing::StartsWith("cannot connect to auth.example.org ("));
}

TEST(RegistryConfig, ParsesHostsAndRejectsUnknownKeys) {
  RegistryConfig config;
  auto node =
      YAML::Load("127.0.0.1:5000: {insecure: true}\nreg.example.org: {username: u, password: p}\n");
  ASSERT_TRUE(ParseRegistries(node, "agent.yaml", config).ok());
  EXPECT_TRUE(config.hosts["127.0.0.1:5000"].insecure);
  EXPECT_EQ(config.hosts["reg.example.org"].username, "u");
  auto bad = ParseRegistries(YAML::Load("h: {insecure: maybe}"), "agent.yaml", config);
  EXPECT_EQ(bad.message(), "agent.yaml: registries.h.insecure: expected true or false");
  bad = ParseRegistries(YAML::Load("h: {token: x}"), "agent.yaml", config);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("unknown setting \"token\""));
  bad = ParseRegistries(YAML::Load("h: {username: u}"), "agent.yaml", config);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("username and password go together"));
}

// caFile: a private CA's certificates, read and checked when the
// configuration loads; an unreadable or empty one, or one beside insecure,
// is an error naming the setting.
TEST(RegistryConfig, CaFileIsReadAndChecked) {
  const std::string dir = ::testing::TempDir();
  auto ca = pki::CreateCa("test", absl::Now(), absl::Hours(1));
  ASSERT_TRUE(ca.ok()) << ca.status();
  const std::string good = dir + "/registry-ca.pem";
  const std::string junk = dir + "/not-a-ca.pem";
  std::ofstream(good) << ca->cert_pem;
  std::ofstream(junk) << "hello\n";
  RegistryConfig config;
  ASSERT_TRUE(
      ParseRegistries(YAML::Load("reg.example.org: {caFile: " + good + "}"), "agent.yaml", config)
          .ok());
  EXPECT_EQ(config.hosts["reg.example.org"].ca_pem, ca->cert_pem);
  EXPECT_FALSE(config.hosts["reg.example.org"].insecure) << "HTTPS, with that CA";

  RegistryConfig unchanged;
  auto bad = ParseRegistries(YAML::Load("h: {caFile: " + junk + "}"), "agent.yaml", unchanged);
  EXPECT_EQ(bad.message(), "agent.yaml: registries.h.caFile: " + junk +
                               " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  bad =
      ParseRegistries(YAML::Load("h: {caFile: " + dir + "/missing.pem}"), "agent.yaml", unchanged);
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("registries.h.caFile " + dir + "/missing.pem: cannot read the file"));
  bad = ParseRegistries(YAML::Load("h: {insecure: true, caFile: " + good + "}"), "agent.yaml",
                        unchanged);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("insecure (plain HTTP) and caFile"));
  EXPECT_TRUE(unchanged.hosts.empty());
}

}  // namespace
}  // namespace gantry::registry
