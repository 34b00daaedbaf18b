// A service's `ingress` and `kind: NetworkAcl` documents as gantryctl
// apply reads them (ctl/network_document.h through ParseSpecs), then
// spec/network_rules.h's validation, with the field in every error.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "common/spec/network_rules.h"
#include "ctl/network_output.h"
#include "ctl/spec_parser.h"

namespace gantry::ctl {
namespace {

using ::testing::HasSubstr;

constexpr char kDb[] = R"(kind: Service
name: db
taskDefinition: db
ingress:
  - {fromService: api, ports: [5432]}
  - {cidr: 10.79.0.0/24, protocol: tcp, ports: [9187]}
)";

constexpr char kAcl[] = R"(kind: NetworkAcl
name: base
egress:
  - {number: 200, action: deny, cidr: 169.254.0.0/16}
  - {number: 100, action: allow, cidr: 169.254.169.0/24, ports: [80]}
ingress:
  - {number: 100, action: deny, cidr: 10.66.0.0/16, protocol: udp}
)";

std::string Error(const std::string& yaml) {
  auto req = ParseSpecs(yaml, "net.yaml");
  EXPECT_FALSE(req.ok());
  return std::string(req.status().message());
}

TEST(NetworkDocumentTest, ReadsIngressRules) {
  auto req = ParseSpecs(kDb, "net.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  const auto& s = req->services(0);
  ASSERT_EQ(s.ingress_size(), 2);
  EXPECT_EQ(s.ingress(0).from_service(), "api");
  EXPECT_EQ(s.ingress(0).ports(0), 5432u);
  EXPECT_EQ(s.ingress(1).cidr(), "10.79.0.0/24");
  const auto effective = spec::EffectiveIngress(s);
  ASSERT_EQ(effective.size(), 3u);
  EXPECT_EQ(spec::DescribeIngressRule(effective[0]), "all from service db");
  EXPECT_EQ(spec::DescribeIngressRule(effective[1]), "tcp 5432 from service api");
}

TEST(NetworkDocumentTest, ReadsANetworkAclInNumberOrder) {
  auto req = ParseSpecs(kAcl, "net.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->network_acls_size(), 1);
  const auto sorted = spec::SortedRules(req->network_acls(0).egress());
  EXPECT_EQ(spec::DescribeAclRule(sorted[0], false), "100 allow tcp 80 to 169.254.169.0/24");
  EXPECT_EQ(spec::DescribeAclRule(sorted[1], false), "200 deny all to 169.254.0.0/16");
  EXPECT_EQ(spec::DescribeAclRule(req->network_acls(0).ingress(0), true),
            "100 deny udp all ports from 10.66.0.0/16");
}

TEST(NetworkDocumentTest, BadRulesNameTheField) {
  EXPECT_THAT(Error(std::string(kDb) + "  - {fromService: api, cidr: 10.0.0.0/8}\n"),
              HasSubstr("ingress[2]: give exactly one of fromService and cidr"));
  EXPECT_THAT(Error(std::string(kDb) + "  - {cidr: 10.1.0.0/8}\n"),
              HasSubstr("ingress[2].cidr: \"10.1.0.0/8\" has host bits set"));
  EXPECT_THAT(Error(std::string(kDb) + "  - {cidr: 10.0.0.0/8, protocol: all, ports: [1]}\n"),
              HasSubstr("ingress[2].ports: ports need protocol tcp or udp"));
  EXPECT_THAT(Error(std::string(kDb) + "  - {cidr: 10.0.0.0/8, protocol: icmp}\n"),
              HasSubstr("ingress[2].protocol: \"icmp\" is not tcp, udp or all"));
  EXPECT_THAT(Error(std::string(kDb) + "  - {cidr: 10.0.0.0/8, ports: [0]}\n"),
              HasSubstr("ingress[2].ports[0]"));
  EXPECT_THAT(Error(std::string(kDb) + "  - {cidr: 10.0.0.0/8, port: 1}\n"), HasSubstr("port"));
  EXPECT_THAT(Error(std::string(kAcl) + "  - {number: 100, action: allow, cidr: 10.0.0.0/8}\n"),
              HasSubstr("ingress[1].number: 100 is used twice in ingress"));
  EXPECT_THAT(Error(std::string(kAcl) + "  - {number: 7, action: permit, cidr: 10.0.0.0/8}\n"),
              HasSubstr("ingress[1].action: \"permit\" is not allow or deny"));
  EXPECT_THAT(Error(std::string(kAcl) + "  - {number: 7, action: deny}\n"),
              HasSubstr("ingress[1].cidr: required"));
  EXPECT_THAT(Error("kind: NetworkAcl\nname: empty\n"),
              HasSubstr("an ACL needs at least one rule"));
}

TEST(NetworkOutputTest, DescribeShowsWhatTheTasksAccept) {
  auto req = ParseSpecs(std::string(kDb) + "---\n" + kAcl, "net.yaml");
  ASSERT_TRUE(req.ok()) << req.status();
  IngressView view;
  view.service = req->services(0);
  view.published = {8080};
  view.task_addresses = {{"db", 2}, {"api", 1}};
  view.acls = {req->network_acls(0)};
  std::ostringstream out;
  DescribeIngress(out, view);
  EXPECT_THAT(out.str(), HasSubstr("  all from its own tasks (2 task addresses)\n"
                                   "  tcp 5432 from service api (1 task address)\n"
                                   "  tcp 9187 from 10.79.0.0/24\n"
                                   "  tcp 8080 from anywhere, through the published host ports\n"));
  EXPECT_THAT(out.str(), HasSubstr("100 allow tcp 80 to 169.254.169.0/24"));
  view.task_addresses.erase("api");
  view.acls_error = "permission denied";
  out.str("");
  DescribeIngress(out, view);
  EXPECT_THAT(out.str(), HasSubstr("from service api (task addresses not readable)"));
  EXPECT_THAT(out.str(), HasSubstr("Network ACLs: cannot list them: permission denied"));
}

}  // namespace
}  // namespace gantry::ctl
