// LoadYamlDocuments (common/yaml_guard.h): the inputs that hang Debian 12's
// yaml-cpp in LoadAll are refused with their place; ordinary specs load.

#include "common/yaml_guard.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace gantry {
namespace {

TEST(YamlGuard, RefusesWhatYamlCppWouldNeverFinishReading) {
  for (const char* text : {",", ",a", "--- ,", "# c\n,", "x: 1\n---\n,", "\"s\" ,", "- x\n,",
                           " ,- name: httpd", "&a,", "!t ,", "*a,", "&^\\,x"}) {
    const auto docs = LoadYamlDocuments(text, "web.yaml");
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_NE(docs.status().message().find("invalid YAML"), std::string::npos) << docs.status();
  }
  EXPECT_EQ(LoadYamlDocuments("kind: Service\n---\n  ,x", "web.yaml").status().message(),
            "web.yaml: line 3, column 3: invalid YAML: no value can start with ',' "
            "(a ',' outside [ ] or { } must be quoted)");
}

TEST(YamlGuard, SaysWhereYamlCppFoundAnError) {
  const auto docs = LoadYamlDocuments("a: 1\n b: [", "web.yaml");
  ASSERT_FALSE(docs.ok());
  EXPECT_TRUE(absl::StartsWith(docs.status().message(), "web.yaml: line 2, column 3: invalid YAML"))
      << docs.status();
}

TEST(YamlGuard, OrdinarySpecsLoad) {
  for (const char* text : {
           "kind: Service\nname: web\n",
           "command: [\"/bin/sh\", \"-c\", \"a, b\"]\n",
           "env: {A: \"1\", B: '2'}\n",
           "a: x, y\n",
           "a: 'it''s, fine'\n",
           "a: \"esc \\\" , still\"\n",
           "query: |\n  ,starts a line of a block scalar\nnext: 1\n",
           "list:\n  - [1,\n     2]\n",
           "# a comment, with a comma\nkind: Service\n",
           "base: &b {a: 1}\nother: *b\n",
           "a: plain\n  ,continued\n",
       }) {
    const auto docs = LoadYamlDocuments(text, "web.yaml");
    ASSERT_TRUE(docs.ok()) << text << ": " << docs.status();
    EXPECT_EQ(docs->size(), 1u) << text;
  }
  const auto three = LoadYamlDocuments("a: 1\n---\nb: 2\n---\n---\nc: 3\n", "web.yaml");
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->size(), 4u);  // the empty document between two markers counts
  EXPECT_EQ((*three)[3]["c"].as<int>(), 3);
}

TEST(YamlGuard, BoundsTheSize) {
  EXPECT_FALSE(LoadYamlDocuments(std::string(kMaxYamlBytes + 1, 'a'), "big.yaml").ok());
}

}  // namespace
}  // namespace gantry
