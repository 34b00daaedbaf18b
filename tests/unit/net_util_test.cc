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

TEST(Tls, PlaintextOnlyOnLoopback) {
  EXPECT_TRUE(MakeServerCredentials({}, "127.0.0.1:0").ok());
  auto st = MakeServerCredentials({}, "0.0.0.0:7070").status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--tls-cert"), std::string::npos);
  EXPECT_TRUE(MakeClientChannel({}, "127.0.0.1:7070").ok());
  EXPECT_FALSE(MakeClientChannel({}, "10.0.0.1:7070").ok());
  TlsFiles half;
  half.cert = "/nonexistent.pem";
  EXPECT_FALSE(MakeServerCredentials(half, "127.0.0.1:0").ok());
  TlsFiles missing;
  missing.cert = "/nonexistent/cert.pem";
  missing.key = "/nonexistent/key.pem";
  auto bad = MakeServerCredentials(missing, "127.0.0.1:0").status();
  EXPECT_NE(bad.message().find("/nonexistent/cert.pem"), std::string::npos);
}

}  // namespace
}  // namespace gantry
