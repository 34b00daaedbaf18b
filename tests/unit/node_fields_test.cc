// The rules for what a node says about itself (common/node_fields.h), value
// by value: what passes, what does not, and that the message states the rule
// and why without echoing the value.

#include "common/node_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace gantry {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

template <typename Check>
void ExpectGood(Check check, std::initializer_list<std::string> values) {
  for (const auto& v : values) EXPECT_TRUE(check(v).ok()) << "\"" << v << "\": " << check(v);
}

template <typename Check>
void ExpectBad(Check check, std::initializer_list<std::string> values) {
  for (const auto& v : values) {
    const absl::Status st = check(v);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << "\"" << v << "\"";
    EXPECT_THAT(std::string(st.message()), StartsWith("must ")) << "\"" << v << "\"";
  }
}

TEST(NodeFields, NodeNamesAreDnsLabels) {
  ExpectGood(CheckNodeName, {"n1", "node-1", "a", std::string(63, 'x'), "0"});
  ExpectBad(CheckNodeName, {"", "Node1", "node_1", "node.1", "-n", "n-", "n 1", "n1\n",
                            std::string(64, 'x'), std::string("n\0x", 3)});
  EXPECT_THAT(CheckNodeName("n_1").message(), HasSubstr("(it holds '_')"));
  EXPECT_THAT(CheckNodeName("n\n").message(), HasSubstr("(it holds '\\n')"));
}

TEST(NodeFields, Zones) {
  ExpectGood(CheckZone, {"a", "b", "zone-1", "us-east-1a", "eu_west.2", "DEFAULT", "default",
                         std::string(63, 'z')});
  ExpectBad(CheckZone, {"", "us east", "a/b", "a\n  server evil 1.2.3.4:80", "a#b", "a:b",
                        std::string(64, 'z')});
  EXPECT_THAT(CheckZone(std::string(64, 'z')).message(), HasSubstr("64 characters long"));
}

TEST(NodeFields, AttributeKeysAreLikeKubernetesLabelKeys) {
  ExpectGood(CheckAttributeKey,
             {"disk", "rack", "tier", "Disk_Type", "a.b-c", "x", std::string(63, 'k'),
              "example.com/disk", "gantry.io/gpu-count", "a/b"});
  ExpectBad(CheckAttributeKey,
            {"", "disk type", "-disk", "disk-", ".disk", "disk=ssd", "disk\n", "/disk", "disk/",
             "a/b/c", "Example.com/disk", "exa_mple.com/disk", "example..com/disk",
             "-example.com/disk", std::string(64, 'k'), std::string(254, 'a') + "/k"});
  EXPECT_THAT(CheckAttributeKey("disk type").message(), HasSubstr("(it holds ' ')"));
  EXPECT_THAT(CheckAttributeKey("Example.com/disk").message(), HasSubstr("in the prefix"));
  EXPECT_THAT(CheckAttributeKey("a.com/b c").message(), HasSubstr("NAME: it holds ' '"));
}

TEST(NodeFields, AttributeValuesAreLikeKubernetesLabelValues) {
  ExpectGood(CheckAttributeValue, {"", "ssd", "r1", "2", "gold", "v1.2_3-x", std::string(63, 'v')});
  ExpectBad(CheckAttributeValue,
            {"a b", "-ssd", "ssd.", "a/b", "a=b", "a\nb", "#", std::string(64, 'v')});
}

TEST(NodeFields, AttributeCountIsBounded) {
  EXPECT_TRUE(CheckAttributeCount(0).ok());
  EXPECT_TRUE(CheckAttributeCount(kMaxNodeAttributes).ok());
  const absl::Status st = CheckAttributeCount(kMaxNodeAttributes + 1);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "must be at most 64 (there are 65)");
}

TEST(NodeFields, AddressesAreIpLiterals) {
  ExpectGood(CheckIpLiteral, {"10.0.0.1", "127.0.0.1", "0.0.0.0", "::1", "fd00::5", "2001:db8::1:2",
                              "::ffff:10.0.0.1"});
  ExpectBad(CheckIpLiteral,
            {"", "localhost", "node-1.example.com", "10.0.0.1:80", "[::1]", "fe80::1%eth0",
             " 10.0.0.1", "10.0.0.1 ", "10.0.0.1\n  server evil 6.6.6.6:80", "10.0.0.1#", "10.0.0",
             "10.0.0.256", "1.2.3.4.5", std::string("10.0.0.1\0", 9), std::string(100, '1')});
  EXPECT_THAT(CheckIpLiteral("10.0.0.1\n").message(), HasSubstr("(it holds '\\n')"));
  EXPECT_THAT(CheckIpLiteral("10.0.0.256").message(), HasSubstr("not a well-formed address"));
  EXPECT_THAT(CheckIpLiteral("node-1.example.com").message(), HasSubstr("looks like a host name"));
  EXPECT_THAT(CheckIpLiteral("web 1").message(), HasSubstr("(it holds ' ')"));
}

TEST(NodeFields, HostPorts) {
  ExpectGood(CheckHostPort, {"10.0.0.1:7072", "[fd00::1]:7072", "fd00::1:7072", "localhost:9100",
                             "node-1.example.com:1", "10.0.0.1:65535"});
  ExpectBad(CheckHostPort, {"", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1: 80",
                            "10.0.0.1:80\n", "unix:/run/x.sock", "bad_host:80", "-a:80", "a..b:80",
                            "host name:80", std::string(400, 'a') + ":80"});
}

TEST(NodeFields, Versions) {
  ExpectGood(CheckVersion, {"", "0.1.0", "1.2.3-rc1+g1234abc", "1.0~beta"});
  ExpectBad(CheckVersion, {"0.1 beta", "0.1\n", "2:1.0", "0.1;rm", std::string(65, '1')});
}

TEST(NodeFields, QuoteForMessageEscapesAndCuts) {
  EXPECT_EQ(QuoteForMessage("n1"), "\"n1\"");
  EXPECT_EQ(QuoteForMessage("a\n\"b\""), "\"a\\n\\\"b\\\"\"");
  EXPECT_EQ(QuoteForMessage(std::string(100, 'x'), 4), "\"xxxx...\"");
  EXPECT_EQ(QuoteForMessage(std::string("\x01\xff", 2)), "\"\\x01\\xff\"");
}

}  // namespace
}  // namespace gantry
