#include "controlplane/nodes/image_reports.h"

namespace gantry::nodes {

void ImageReports::OnReport(const std::string& node, const gantry::v1::ImageReport& report) {
  MutexLock lock(&mu_);
  auto& images = images_[node];
  images.assign(report.images().begin(), report.images().end());
  for (auto& i : images) i.set_node(node);
}

std::vector<gantry::v1::NodeImage> ImageReports::Images(const std::string& node) const {
  MutexLock lock(&mu_);
  std::vector<gantry::v1::NodeImage> out;
  for (const auto& [name, images] : images_) {
    if (node.empty() || name == node) out.insert(out.end(), images.begin(), images.end());
  }
  return out;
}

}  // namespace gantry::nodes
