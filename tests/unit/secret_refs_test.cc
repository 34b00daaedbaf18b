// The rules for secret names, references and a container's secrets list,
// as gantryctl and the control plane both check them.

#include "common/spec/secret_refs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gantry::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Problems(const gantry::v1::ContainerDefinition& c) {
  std::vector<FieldError> errors;
  ValidateSecretReferences(c, "containers[0]", errors);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.field + ": " + e.problem);
  return out;
}

gantry::v1::SecretReference* Add(gantry::v1::ContainerDefinition& c, const std::string& name,
                                 const std::string& file, const std::string& from) {
  auto* s = c.add_secrets();
  s->set_name(name);
  s->set_file(file);
  s->set_value_from(from);
  return s;
}

TEST(SecretRefsTest, ReferencesParseWithAndWithoutVersion) {
  EXPECT_EQ(ParseSecretRef("db-password")->name, "db-password");
  EXPECT_EQ(ParseSecretRef("db-password")->version, 0);
  EXPECT_EQ(ParseSecretRef("db-password:3")->version, 3);
  EXPECT_THAT(ParseSecretRef("db:0").status().message(), HasSubstr("a number from 1"));
  EXPECT_THAT(ParseSecretRef("db:x").status().message(), HasSubstr("a number from 1"));
  EXPECT_THAT(ParseSecretRef("").status().message(), HasSubstr("required"));
  EXPECT_THAT(ParseSecretRef("DB").status().message(), HasSubstr("lowercase"));
}

TEST(SecretRefsTest, AGoodListHasNoProblems) {
  gantry::v1::ContainerDefinition c;
  Add(c, "DB_PASSWORD", "", "db-password");
  Add(c, "", "/run/secrets/tls.key", "api-tls-key:2");
  EXPECT_TRUE(Problems(c).empty());
}

TEST(SecretRefsTest, EachMistakeNamesItsField) {
  gantry::v1::ContainerDefinition c;
  (*c.mutable_environment())["TOKEN"] = "x";
  Add(c, "A", "/run/a", "s");             // both
  Add(c, "TOKEN", "", "s");               // also in environment
  Add(c, "GANTRY_X", "", "s");            // reserved
  Add(c, "", "relative/path", "s");       // not absolute
  Add(c, "", "/proc/self/x", "s");        // runtime mount
  Add(c, "", "/run/../etc/shadow", "s");  // '..'
  Add(c, "B", "", "s");
  Add(c, "B", "", "t");  // twice
  Add(c, "", "/run/k", "s");
  Add(c, "", "/run/k", "t");
  Add(c, "C", "", "");  // no valueFrom
  EXPECT_THAT(
      Problems(c),
      ElementsAre(
          "containers[0].secrets[0]: give exactly one of name (an environment variable) and "
          "file (a path)",
          "containers[0].secrets[1].name: \"TOKEN\" is also set in environment",
          "containers[0].secrets[2].name: names starting with GANTRY_ are set by Gantry",
          "containers[0].secrets[3].file: \"relative/path\": expected an absolute path such as "
          "/run/secrets/db",
          "containers[0].secrets[4].file: \"/proc/self/x\" is under /proc, which the runtime "
          "mounts",
          "containers[0].secrets[5].file: \"/run/../etc/shadow\": no empty, '.' or '..' path "
          "elements",
          "containers[0].secrets[7].name: \"B\" is set by another secret",
          "containers[0].secrets[9].file: \"/run/k\" is written by another secret",
          "containers[0].secrets[10].valueFrom: required: the secret's name, e.g. db-password "
          "or db-password:3"));
}

TEST(SecretRefsTest, CredentialLikeKeysAreFound) {
  gantry::v1::TaskDefinition td;
  auto* c = td.add_containers();
  for (const char* key :
       {"DB_PASSWORD", "API_TOKEN", "client_secret", "SIGNING_KEY", "LOG_LEVEL", "KEYBOARD"}) {
    (*c->mutable_environment())[key] = "v";
  }
  EXPECT_THAT(
      CredentialLikeEnvironment(td),
      ElementsAre("containers[0].environment.API_TOKEN", "containers[0].environment.DB_PASSWORD",
                  "containers[0].environment.SIGNING_KEY",
                  "containers[0].environment.client_secret"));
}

TEST(SecretRefsTest, DidYouMeanSuggestsOnlyCloseNames) {
  EXPECT_EQ(DidYouMean("db-pasword", {"api-key", "db-password"}),
            " (did you mean \"db-password\"?)");
  EXPECT_EQ(DidYouMean("zzz", {"api-key", "db-password"}), "");
}

}  // namespace
}  // namespace gantry::spec
