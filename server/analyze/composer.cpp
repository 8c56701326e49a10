// PHP: the packages Composer installed, from the list it keeps of them
// (vendor/composer/installed.json). Composer 2 writes {"packages": [...], "dev":
// true|false, "dev-package-names": [...]}; Composer 1 wrote the array of packages alone.
#include "analyze/app_packages.h"

#include <set>

namespace bw {

bool is_composer_installed_path(std::string_view path) {
  return path == "vendor/composer/installed.json" ||
         path.ends_with("/vendor/composer/installed.json");
}

std::vector<AppPackage> parse_composer_installed(std::string_view installed_json) {
  std::vector<AppPackage> out;
  auto doc = nlohmann::json::parse(installed_json, nullptr, false);
  if (doc.is_discarded()) return out;
  const nlohmann::json* list = &doc;
  std::set<std::string> dev;
  if (doc.is_object()) {
    auto packages = doc.find("packages");
    if (packages == doc.end()) return out;
    list = &*packages;
    if (auto names = doc.find("dev-package-names"); names != doc.end() && names->is_array())
      for (auto& n : *names)
        if (n.is_string()) dev.insert(n.get<std::string>());
  }
  if (!list->is_array()) return out;
  auto text = [](const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  for (auto& p : *list) {
    if (!p.is_object()) continue;
    AppPackage a;
    a.ecosystem = "composer";
    a.name = text(p, "name");
    a.version = text(p, "version");
    if (a.name.empty() || a.version.empty()) continue;
    // Composer reads several licenses as a choice among them.
    if (auto l = p.find("license"); l != p.end() && l->is_array()) {
      for (auto& one : *l)
        if (one.is_string() && !one.get<std::string>().empty())
          a.license += (a.license.empty() ? "" : " OR ") + one.get<std::string>();
    } else if (l != p.end() && l->is_string()) {
      a.license = l->get<std::string>();
    }
    a.dev = dev.count(a.name) > 0;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace bw
