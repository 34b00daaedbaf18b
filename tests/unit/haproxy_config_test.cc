#include "lb/haproxy_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gantry::lb {
namespace {

using ::testing::Contains;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

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

// A config made from endpoints with one bad backend among good ones.
struct Injected {
  std::string field;
  std::function<void(gantry::v1::Backend&)> edit;
  std::string evil;  // what must not reach the configuration
};

Settings PlainSettings() {
  Settings s;
  s.admin_socket = "/run/lb/admin.sock";
  s.pid_file = "/run/lb/haproxy.pid";
  return s;
}

TEST(HaproxyConfig, InjectedBackendValuesAreLeftOutAndTheRestRenders) {
  const std::vector<Injected> cases = {
      {"address", [](auto& b) { b.set_address("10.0.0.2:1\n  server evil 6.6.6.6:80"); }, "evil"},
      {"address", [](auto& b) { b.set_address("10.0.0.2 backup"); }, "backup"},
      {"address", [](auto& b) { b.set_address("10.0.0.2#"); }, "10.0.0.2#"},
      {"address", [](auto& b) { b.set_address("evil.example.com"); }, "evil.example.com"},
      {"address", [](auto& b) { b.set_address(""); }, "tcccccccccccccccc"},
      {"task id", [](auto& b) { b.set_task_id("x\n  server evil 6.6.6.6:80"); }, "evil"},
      {"task id", [](auto& b) { b.set_task_id("x y"); }, "tx y"},
      {"task id", [](auto& b) { b.set_task_id("a#b"); }, "ta#b"},
      {"task id", [](auto& b) { b.set_task_id(""); }, "server t "},
      {"port", [](auto& b) { b.set_port(70000); }, "70000"},
      {"port", [](auto& b) { b.set_port(0); }, "10.0.0.9:0"},
      {"weight", [](auto& b) { b.set_weight(257); }, "257"},
      {"weight", [](auto& b) { b.set_weight(-1); }, "-1"},
  };
  for (const auto& c : cases) {
    auto e = Endpoints(64);
    auto* bad = e.mutable_listeners(0)->add_backends();
    bad->set_task_id("cccccccccccccccccccc");
    bad->set_address("10.0.0.9");
    bad->set_port(20009);
    bad->set_weight(1);
    c.edit(*bad);
    std::vector<std::string> refused;
    const Layout layout = LayoutOf(e, &refused);
    const std::string cfg = Render(layout, PlainSettings());
    EXPECT_THAT(cfg, Not(HasSubstr(c.evil))) << c.field << "\n" << cfg;
    EXPECT_THAT(cfg, Not(HasSubstr("6.6.6.6")));
    EXPECT_THAT(cfg, HasSubstr("server taaaaaaaaaaaaaaaa 10.0.0.2:20002 weight 192"))
        << "the good backends stay";
    EXPECT_THAT(cfg, HasSubstr("server tbbbbbbbbbbbbbbbb 10.0.0.2:20003 weight 64"));
    EXPECT_EQ(layout.at(8080).servers.size(), 2u) << c.field;
    ASSERT_EQ(refused.size(), 1u) << c.field;
    EXPECT_THAT(refused[0], StartsWith("listener on port 8080 (service \"web\"): backend task "));
    EXPECT_THAT(refused[0], HasSubstr(": " + c.field + " ")) << refused[0];
    EXPECT_THAT(refused[0], Not(HasSubstr("\n"))) << "a refusal is one escaped line";
  }
}

TEST(HaproxyConfig, TheRefusalNamesTheTaskAndTheFieldEscaped) {
  auto e = Endpoints(64);
  e.mutable_listeners(0)->mutable_backends(0)->set_address("10.0.0.2\n  server evil");
  std::vector<std::string> refused;
  LayoutOf(e, &refused);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0], StartsWith("listener on port 8080 (service \"web\"): backend task "
                                     "\"aaaaaaaaaaaaaaaaaaaa\": address \"10.0.0.2\\n  server "
                                     "evil\" must be an IPv4 or IPv6 address"));
  EXPECT_THAT(refused[0], EndsWith("; left out"));
}

TEST(HaproxyConfig, BadListenersAreLeftOutWhole) {
  auto e = Endpoints(64);
  auto add = [&](uint32_t port, const std::string& service) {
    auto* l = e.add_listeners();
    l->set_port(port);
    l->set_service(service);
    auto* b = l->add_backends();
    b->set_task_id("dddddddddddddddd");
    b->set_address("10.0.0.4");
    b->set_port(20004);
    b->set_weight(1);
  };
  add(0, "zero");
  add(70000, "big");
  add(9090, "web\n  server evil 6.6.6.6:80");
  add(9091, "we b");
  add(8080, "other");  // the port is web's
  add(9092, "api");
  std::vector<std::string> refused;
  const Layout layout = LayoutOf(e, &refused);
  EXPECT_EQ(refused.size(), 5u);
  EXPECT_THAT(refused, Contains(HasSubstr("the port is already service \"web\"'s")));
  ASSERT_EQ(layout.size(), 2u);
  EXPECT_EQ(layout.at(8080).service, "web");
  EXPECT_EQ(layout.at(8080).servers.size(), 2u) << "other's backends did not join web's";
  const std::string cfg = Render(layout, PlainSettings());
  for (const char* evil : {"evil", "70000", "f0\n", "we b", "other", "tdddd\n"}) {
    EXPECT_THAT(cfg, Not(HasSubstr(evil)));
  }
  EXPECT_THAT(cfg, HasSubstr("frontend f9092\n  # service api\n"));
}

TEST(HaproxyConfig, ServerNamesThatCollideAreLeftOut) {
  auto e = Endpoints(64);
  // The server name keeps 16 characters of the task id.
  auto* b = e.mutable_listeners(0)->add_backends();
  b->set_task_id("aaaaaaaaaaaaaaaaZZZZ");
  b->set_address("10.0.0.5");
  b->set_port(20005);
  b->set_weight(1);
  std::vector<std::string> refused;
  const Layout layout = LayoutOf(e, &refused);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0], HasSubstr("is already task \"aaaaaaaaaaaaaaaaaaaa\"'s"));
  EXPECT_EQ(layout.at(8080).servers.at("taaaaaaaaaaaaaaaa").address, "10.0.0.2");
}

TEST(HaproxyConfig, RenderChecksALayoutItWasHandedToo) {
  Layout layout;
  layout[8080].port = 8080;
  layout[8080].service = "web";
  layout[8080].servers["tgood"] = Server{"10.0.0.2", 20001, 1};
  layout[8080].servers["tbad\n  server evil"] = Server{"10.0.0.2", 20002, 1};
  layout[8080].servers["tbad2"] = Server{"10.0.0.2\n  server evil", 20003, 1};
  layout[9090].port = 9090;
  layout[9090].service = "x\ny";
  const std::string cfg = Render(layout, PlainSettings());
  EXPECT_THAT(cfg, HasSubstr("server tgood 10.0.0.2:20001 weight 1"));
  EXPECT_THAT(cfg, Not(HasSubstr("evil")));
  EXPECT_THAT(cfg, Not(HasSubstr("9090")));
}

TEST(HaproxyConfig, IPv6AddressesAreBracketed) {
  auto e = Endpoints(64);
  e.mutable_listeners(0)->mutable_backends(0)->set_address("fd00::2");
  Settings s = PlainSettings();
  s.bind_address = "::";
  const std::string cfg = Render(LayoutOf(e), s);
  EXPECT_THAT(cfg, HasSubstr("server taaaaaaaaaaaaaaaa [fd00::2]:20002 weight 192"));
  EXPECT_THAT(cfg, HasSubstr("bind [::]:8080"));
}

TEST(HaproxyConfig, WorkersDropPrivilegesWhenTold) {
  Settings s = PlainSettings();
  std::string cfg = Render(LayoutOf(Endpoints(64)), s);
  EXPECT_THAT(cfg, Not(HasSubstr("  user ")));
  EXPECT_THAT(cfg, Not(HasSubstr("chroot")));
  s.user = "haproxy";
  s.group = "haproxy";
  s.chroot = "/var/lib/haproxy";
  cfg = Render(LayoutOf(Endpoints(64)), s);
  EXPECT_THAT(cfg, HasSubstr("global\n  master-worker\n"));
  EXPECT_THAT(cfg, HasSubstr("  user haproxy\n  group haproxy\n  chroot /var/lib/haproxy\n"
                             "defaults\n"));
}

TEST(HaproxyConfig, SettingsAreValidatedNamingTheSetting) {
  EXPECT_TRUE(ValidateSettings(PlainSettings()).ok());
  Settings ok = PlainSettings();
  ok.user = "haproxy";
  ok.group = "haproxy";
  ok.chroot = "/var/lib/haproxy";
  ok.bind_address = "fd00::1";
  EXPECT_TRUE(ValidateSettings(ok).ok()) << ValidateSettings(ok);
  const std::vector<std::pair<std::function<void(Settings&)>, std::string>> bad = {
      {[](auto& s) { s.bind_address = "0.0.0.0:80"; }, "bind address \"0.0.0.0:80\" must"},
      {[](auto& s) { s.bind_address = "localhost"; }, "bind address"},
      {[](auto& s) { s.bind_address = ""; }, "bind address"},
      {[](auto& s) { s.admin_socket = "/run/lb/admin.sock level admin"; }, "admin socket"},
      {[](auto& s) { s.admin_socket = "admin.sock"; }, "admin socket \"admin.sock\" must"},
      {[](auto& s) { s.pid_file = "/run/lb/pid\n  lua-load /tmp/x.lua"; }, "pid file"},
      {[](auto& s) { s.pid_file = "/" + std::string(120, 'p'); }, "pid file"},
      {[](auto& s) { s.user = "root\n  chroot /"; }, "user"},
      {[](auto& s) { s.user = "-haproxy"; }, "user"},
      {[](auto& s) { s.group = "hap roxy"; }, "group"},
      {[](auto& s) { s.chroot = "/var/lib/haproxy #"; }, "chroot"},
      {[](auto& s) { s.chroot = "var/lib/haproxy"; }, "chroot"},
  };
  for (const auto& [edit, start] : bad) {
    Settings s = PlainSettings();
    edit(s);
    const absl::Status st = ValidateSettings(s);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << start;
    EXPECT_THAT(std::string(st.message()), StartsWith(start));
  }
}

TEST(HaproxyConfig, WeightCommandsCarryOnlyCheckedValues) {
  std::vector<std::string> commands;
  auto after = Endpoints(64);
  after.mutable_listeners(0)->mutable_backends(1)->set_weight(300);
  // The bad backend is left out of the layout: a server went, so a reload,
  // never a command with 300 in it.
  EXPECT_TRUE(NeedsReload(LayoutOf(Endpoints(64)), LayoutOf(after), commands));
  EXPECT_TRUE(commands.empty());
}

}  // namespace
}  // namespace gantry::lb
