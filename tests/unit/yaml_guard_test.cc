// CheckYamlText (common/yaml_guard.h): the inputs that hang Debian 12's
// yaml-cpp are refused with their line; ordinary specs pass.

#include "common/yaml_guard.h"

#include <gtest/gtest.h>

namespace gantry {
namespace {

TEST(YamlGuard, RefusesACommaWhereAValueStarts) {
  for (const char* text :
       {",", ",a", "--- ,", "# c\n,", "x: 1\n---\n,", "\"s\" ,", "- x\n,", " ,- name: httpd",
        "- trap 'kill\n\n,\n", "&a,", "!t ,", "*a,", "&^\\,x"}) {
    const absl::Status st = CheckYamlText(text, "web.yaml");
    EXPECT_FALSE(st.ok()) << text;
    EXPECT_NE(st.message().find("outside [ ] or { } where a value starts; quote the value"),
              std::string::npos)
        << st;
  }
  EXPECT_EQ(CheckYamlText("kind: Service\n\n  ,x", "web.yaml").message(),
            "web.yaml: line 3: ',' outside [ ] or { } where a value starts; quote the value");
}

TEST(YamlGuard, OrdinarySpecsPass) {
  for (const char* text : {
           "kind: Service\nname: web\n",
           "command: [\"/bin/sh\", \"-c\", \"a, b\"]\n",
           "env: {A: \"1\", B: '2'}\n",
           "a: x, y\n",
           "a: 'it''s, fine'\n",
           "a: \"esc \\\" , still\"\n",
           "- ,\n",  // yaml-cpp answers with an error
           "query: |\n  ,starts a line of a block scalar\nnext: 1\n",
           "list:\n  - [1,\n     2]\n",
           "# a comment, with a comma\nkind: Service\n",
           "base: &b {a: 1}\nother: *b\n",
           "a: &x [1, 2]\n",
       }) {
    EXPECT_TRUE(CheckYamlText(text, "web.yaml").ok()) << text;
  }
}

TEST(YamlGuard, BoundsTheSize) {
  EXPECT_FALSE(CheckYamlText(std::string(kMaxYamlBytes + 1, 'a'), "big.yaml").ok());
}

}  // namespace
}  // namespace gantry
