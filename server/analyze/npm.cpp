// npm's own files: installed packages' package.json and what the app's package.json and
// lockfiles say about dev dependencies.
#include "analyze/app_packages.h"
#include "common/text.h"

#include <functional>

namespace bw {

using nlohmann::json;

namespace {

json parse_object(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  return j.is_object() ? j : json();
}

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "license": "MIT", {"type": "MIT"}, or the older "licenses": [{"type": …}, …].
std::string npm_license(const json& j) {
  if (auto l = j.find("license"); l != j.end()) {
    if (l->is_string()) return l->get<std::string>();
    if (l->is_object()) return string_at(*l, "type");
  }
  std::string out;
  if (auto l = j.find("licenses"); l != j.end() && l->is_array())
    for (auto& x : *l) {
      std::string one = x.is_string() ? x.get<std::string>() : string_at(x, "type");
      if (one.empty()) continue;
      out += (out.empty() ? "" : " OR ") + one;
    }
  return out;
}

}  // namespace

bool is_npm_installed_manifest(std::string_view path) {
  static constexpr std::string_view kFile = "/package.json";
  if (!path.ends_with(kFile)) return false;
  std::vector<std::string> dirs = split(path.substr(0, path.size() - kFile.size()), '/');
  // …/node_modules/name or …/node_modules/@scope/name
  std::size_t at = dirs.size();
  if (at < 2 || dirs[at - 1].empty() || dirs[at - 1][0] == '.') return false;
  if (dirs[at - 2].starts_with('@')) --at;
  return at >= 2 && dirs[at - 2] == "node_modules";
}

std::optional<AppPackage> parse_npm_package(std::string_view package_json) {
  json j = parse_object(package_json);
  if (j.is_null()) return std::nullopt;
  AppPackage p;
  p.ecosystem = "npm";
  p.name = string_at(j, "name");
  p.version = string_at(j, "version");
  if (p.name.empty() || p.version.empty()) return std::nullopt;
  p.license = npm_license(j);
  return p;
}

std::vector<std::string> npm_dev_dependencies(std::string_view package_json) {
  std::vector<std::string> out;
  json j = parse_object(package_json);
  if (j.is_null()) return out;
  if (auto d = j.find("devDependencies"); d != j.end() && d->is_object())
    for (auto& [name, _] : d->items()) out.push_back(name);
  return out;
}

std::vector<std::string> npm_lock_dev_paths(std::string_view lockfile) {
  std::vector<std::string> out;
  json j = parse_object(lockfile);
  if (j.is_null()) return out;
  // lockfileVersion 2 and 3: "packages" keyed by install path.
  if (auto p = j.find("packages"); p != j.end() && p->is_object()) {
    for (auto& [path, meta] : p->items())
      if (!path.empty() && meta.is_object() && meta.value("dev", false) == true)
        out.push_back(path);
    return out;
  }
  // lockfileVersion 1: "dependencies", nested as installed.
  std::function<void(const json&, const std::string&, int)> walk =
      [&](const json& deps, const std::string& prefix, int depth) {
        if (!deps.is_object() || depth > 64) return;
        for (auto& [name, meta] : deps.items()) {
          if (!meta.is_object()) continue;
          std::string path = prefix + "node_modules/" + name;
          if (meta.value("dev", false) == true) out.push_back(path);
          if (auto nested = meta.find("dependencies"); nested != meta.end())
            walk(*nested, path + "/", depth + 1);
        }
      };
  if (auto d = j.find("dependencies"); d != j.end()) walk(*d, "", 0);
  return out;
}

}  // namespace bw
