#include "common/net_util.h"

#include <gtest/gtest.h>

#include "common/tls.h"

namespace gantry {
namespace {

TEST(ParseHostPort, Forms) {
  auto hp = ParseHostPort("10.0.0.1:7070");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "10.0.0.1");
  EXPECT_EQ(hp->port, 7070);
  hp = ParseHostPort("[::1]:80");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_FALSE(ParseHostPort("nohost").ok());
  EXPECT_FALSE(ParseHostPort("h:99999").ok());
}

TEST(IsLoopback, OnlyLoopbackAndUnixSockets) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopbackAddress("127.8.9.1:1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7070"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7070"));
  EXPECT_TRUE(IsLoopbackAddress("unix:/run/x.sock"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:7070"));
  EXPECT_FALSE(IsLoopbackAddress("10.1.2.3:7070"));
}

TEST(Tls, ClientsNeedACaAndNameTheFilesTheyCannotRead) {
  auto none = LoadClientTls({}).status();
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.message().find("--tls-ca"), std::string::npos);
  TlsFiles half;
  half.ca = "/nonexistent/ca.pem";
  half.cert = "/nonexistent/cert.pem";
  EXPECT_NE(LoadClientTls(half).status().message().find("together"), std::string::npos);
  TlsFiles missing;
  missing.ca = "/nonexistent/ca.pem";
  auto bad = LoadClientTls(missing).status();
  EXPECT_NE(bad.message().find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace gantry
