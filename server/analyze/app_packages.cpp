#include "analyze/app_packages.h"

namespace bw {

nlohmann::json to_json(const AppPackage& p) {
  nlohmann::json j = {{"ecosystem", p.ecosystem}, {"name", p.name}, {"version", p.version}};
  if (!p.group.empty()) j["group"] = p.group;
  if (!p.license.empty()) j["license"] = p.license;
  if (!p.origin.empty()) j["origin"] = p.origin;
  if (p.dev) j["dev"] = true;
  return j;
}

AppPackage app_package_from_json(const nlohmann::json& j) {
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto dev = j.find("dev");
  return AppPackage{str("ecosystem"),
                    str("group"),
                    str("name"),
                    str("version"),
                    str("license"),
                    str("origin"),
                    dev != j.end() && dev->is_boolean() && dev->get<bool>()};
}

}  // namespace bw
