// ImageReports: the newest report of each node, by node.

#include "controlplane/nodes/image_reports.h"

#include <gtest/gtest.h>

namespace gantry::nodes {
namespace {

gantry::v1::ImageReport Report(const std::vector<std::string>& references) {
  gantry::v1::ImageReport r;
  for (const auto& ref : references) r.add_images()->set_name(ref);
  return r;
}

std::vector<std::string> References(const std::vector<gantry::v1::NodeImage>& images) {
  std::vector<std::string> out;
  for (const auto& i : images) out.push_back(i.node() + " " + i.name());
  return out;
}

TEST(ImageReportsTest, EachNodesNewestReportReplacesItsLast) {
  ImageReports images;
  EXPECT_TRUE(images.Images("").empty());
  images.OnReport("n2", Report({"busybox:1"}));
  images.OnReport("n1", Report({"nginx:1", "redis:7"}));
  EXPECT_EQ(References(images.Images("")),
            (std::vector<std::string>{"n1 nginx:1", "n1 redis:7", "n2 busybox:1"}));
  images.OnReport("n1", Report({"nginx:2"}));
  EXPECT_EQ(References(images.Images("n1")), std::vector<std::string>{"n1 nginx:2"});
  images.OnReport("n1", Report({}));
  EXPECT_TRUE(images.Images("n1").empty());
  EXPECT_EQ(References(images.Images("")), std::vector<std::string>{"n2 busybox:1"});
}

}  // namespace
}  // namespace gantry::nodes
