#pragma once

// Valid objects the spec tests start from and break one field of.

#include "gantry/v1/types.pb.h"

namespace gantry::spec::testing {

// One container with a memory limit and a dynamic port named "http".
inline gantry::v1::TaskDefinition ValidTd() {
  gantry::v1::TaskDefinition td;
  td.set_family("web");
  auto* c = td.add_containers();
  c->set_name("httpd");
  c->set_image("example.org/demo/busybox:1");
  c->set_cpu(100);
  c->set_memory(32 << 20);
  c->add_port_mappings()->set_name("http");
  return td;
}

}  // namespace gantry::spec::testing
