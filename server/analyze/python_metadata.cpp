// Python distributions: the core metadata of an installed distribution (PEP 566), as pip and
// Debian's packages leave it in *.dist-info/METADATA or *.egg-info/PKG-INFO.
#include "analyze/app_packages.h"
#include "common/text.h"

namespace bw {

bool is_python_metadata_path(std::string_view path) {
  bool in_site = path.find("site-packages/") != std::string_view::npos ||
                 path.find("dist-packages/") != std::string_view::npos;
  return in_site && (path.ends_with(".dist-info/METADATA") ||
                     path.ends_with(".egg-info/PKG-INFO") || path.ends_with(".egg-info"));
}

std::optional<AppPackage> parse_python_metadata(std::string_view text) {
  AppPackage p;
  p.ecosystem = "pypi";
  std::string license, expression;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t nl = text.find('\n', i);
    std::string_view line = text.substr(i, nl == std::string_view::npos ? text.npos : nl - i);
    i = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;                          // the headers end; the description follows
    if (line[0] == ' ' || line[0] == '\t') continue;  // a folded continuation
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key = to_lower(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    if (key == "name" && p.name.empty())
      p.name = value;
    else if (key == "version" && p.version.empty())
      p.version = value;
    else if (key == "license" && license.empty())
      license = value;
    else if (key == "license-expression" && expression.empty())
      expression = value;
  }
  if (p.name.empty() || p.version.empty()) return std::nullopt;
  p.license = !expression.empty() ? expression : license == "UNKNOWN" ? "" : license;
  return p;
}

}  // namespace bw
