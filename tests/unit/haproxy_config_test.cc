#include "lb/haproxy_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gantry::lb {
namespace {

using ::testing::HasSubstr;

gantry::v1::ListEndpointsResponse Endpoints(int green_weight, bool extra_server = false) {
  gantry::v1::ListEndpointsResponse e;
  auto* l = e.add_listeners();
  l->set_service("web");
  l->set_port(8080);
  auto add = [&](const std::string& id, int weight) {
    auto* b = l->add_backends();
    b->set_task_id(id);
    b->set_address("10.0.0.2");
    b->set_port(20001 + static_cast<uint32_t>(l->backends_size()));
    b->set_weight(weight);
  };
  add("aaaaaaaaaaaaaaaaaaaa", 256 - green_weight);
  add("bbbbbbbbbbbbbbbbbbbb", green_weight);
  if (extra_server) add("cccccccccccccccccccc", 1);
  return e;
}

TEST(HaproxyConfig, RendersListenersAndWeightedServers) {
  Settings s;
  s.bind_address = "127.0.0.1";
  s.admin_socket = "/run/lb/admin.sock";
  s.pid_file = "/run/lb/haproxy.pid";
  const std::string cfg = Render(LayoutOf(Endpoints(64)), s);
  EXPECT_THAT(cfg, HasSubstr("master-worker"));
  EXPECT_THAT(cfg, HasSubstr("expose-fd listeners"));
  EXPECT_THAT(cfg, HasSubstr("bind 127.0.0.1:8080"));
  EXPECT_THAT(cfg, HasSubstr("server taaaaaaaaaaaaaaaa 10.0.0.2:20002 weight 192"));
  EXPECT_THAT(cfg, HasSubstr("server tbbbbbbbbbbbbbbbb 10.0.0.2:20003 weight 64"));
  EXPECT_THAT(cfg, HasSubstr("retry-on conn-failure"));
}

TEST(HaproxyConfig, WeightChangesNeedNoReload) {
  std::vector<std::string> commands;
  EXPECT_FALSE(NeedsReload(LayoutOf(Endpoints(64)), LayoutOf(Endpoints(128)), commands));
  EXPECT_THAT(commands, ::testing::UnorderedElementsAre("set weight b8080/taaaaaaaaaaaaaaaa 128",
                                                        "set weight b8080/tbbbbbbbbbbbbbbbb 128"));
  EXPECT_TRUE(NeedsReload(LayoutOf(Endpoints(64)), LayoutOf(Endpoints(64, true)), commands));
  EXPECT_TRUE(NeedsReload({}, LayoutOf(Endpoints(64)), commands));
  EXPECT_FALSE(NeedsReload(LayoutOf(Endpoints(64)), LayoutOf(Endpoints(64)), commands));
  EXPECT_TRUE(commands.empty());
}

}  // namespace
}  // namespace gantry::lb
