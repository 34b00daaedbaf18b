#include "ctl/network_document.h"

namespace gantry::ctl {
namespace {

void ParsePorts(Doc& doc, const YAML::Node& n, const std::string& field,
                google::protobuf::RepeatedField<uint32_t>& out) {
  if (!n.IsSequence()) {
    doc.Fail(n, field, "expected a list of port numbers, e.g. [5432]");
    return;
  }
  for (size_t i = 0; i < n.size() && doc.ok(); ++i) {
    out.Add(static_cast<uint32_t>(Integer(doc, n[i], absl::StrCat(field, "[", i, "]"), 1, 65535)));
  }
}

// The rule list under `key`, each entry read by `parse`.
template <typename Parse>
void ParseList(Doc& doc, const YAML::Node& n, const std::string& key, const char* shape,
               Parse parse) {
  const YAML::Node list = n[key];
  if (!list) return;
  if (!list.IsSequence()) {
    doc.Fail(list, key, absl::StrCat("expected a list of ", shape));
    return;
  }
  for (size_t i = 0; i < list.size() && doc.ok(); ++i) {
    parse(list[i], absl::StrCat(key, "[", i, "]"));
  }
}

}  // namespace

void ParseIngress(Doc& doc, const YAML::Node& n, gantry::v1::Service& service) {
  ParseList(doc, n, "ingress", "{fromService | cidr, protocol, ports}",
            [&](const YAML::Node& r, const std::string& path) {
              if (!CheckKeys(doc, r, path, {"fromService", "cidr", "protocol", "ports"})) return;
              auto* rule = service.add_ingress();
              if (r["fromService"]) {
                rule->set_from_service(Scalar(doc, r["fromService"], path + ".fromService"));
              }
              if (r["cidr"]) rule->set_cidr(Scalar(doc, r["cidr"], path + ".cidr"));
              if (r["protocol"]) rule->set_protocol(Scalar(doc, r["protocol"], path + ".protocol"));
              if (r["ports"]) ParsePorts(doc, r["ports"], path + ".ports", *rule->mutable_ports());
            });
}

void ParseNetworkAcl(Doc& doc, const YAML::Node& n, gantry::v1::NetworkAcl& acl) {
  NameObject(doc, n, "name", "NetworkAcl");
  if (!CheckKeys(doc, n, "", {"kind", "name", "ingress", "egress"})) return;
  if (n["name"]) acl.set_name(Scalar(doc, n["name"], "name"));
  for (const char* key : {"ingress", "egress"}) {
    auto* rules = std::string(key) == "ingress" ? acl.mutable_ingress() : acl.mutable_egress();
    ParseList(doc, n, key, "{number, action, cidr, protocol, ports}",
              [&](const YAML::Node& r, const std::string& path) {
                if (!CheckKeys(doc, r, path, {"number", "action", "cidr", "protocol", "ports"})) {
                  return;
                }
                auto* rule = rules->Add();
                if (r["number"]) {
                  rule->set_number(
                      static_cast<int32_t>(Integer(doc, r["number"], path + ".number", 1, 32766)));
                }
                if (r["action"]) rule->set_action(Scalar(doc, r["action"], path + ".action"));
                if (r["cidr"]) rule->set_cidr(Scalar(doc, r["cidr"], path + ".cidr"));
                if (r["protocol"]) {
                  rule->set_protocol(Scalar(doc, r["protocol"], path + ".protocol"));
                }
                if (r["ports"]) {
                  ParsePorts(doc, r["ports"], path + ".ports", *rule->mutable_ports());
                }
              });
  }
}

}  // namespace gantry::ctl
