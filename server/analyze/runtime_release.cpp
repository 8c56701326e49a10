// Language runtimes installed from their upstream archives, by the files those archives carry to
// say which release they are: Node.js's include/node/node_version.h, a JDK's or JRE's `release`.
// Listed as Syft lists runtimes it finds outside package managers (pkg:generic/node@20.11.1), so
// that BW-RUNTIME-EOL can date one that no package and no environment variable names.
#include "analyze/app_packages.h"

#include <cctype>

namespace bw {

namespace {

// The value of `#define NAME value` in a C header, digits only.
std::string defined_number(std::string_view text, std::string_view name) {
  const std::string key = "#define " + std::string(name);
  for (std::size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    std::size_t i = at + key.size();
    if (i >= text.size() || (text[i] != ' ' && text[i] != '\t')) continue;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::size_t end = i;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end > i) return std::string(text.substr(i, end - i));
  }
  return {};
}

}  // namespace

bool is_node_version_header(std::string_view path) {
  return path.ends_with("include/node/node_version.h");
}

bool is_java_release_file(std::string_view path) {
  if (!path.ends_with("/release")) return false;
  std::string_view home = path.substr(0, path.size() - 8);
  home = home.substr(home.rfind('/') == std::string_view::npos ? 0 : home.rfind('/') + 1);
  return home.find("jdk") != std::string_view::npos || home.find("jre") != std::string_view::npos ||
         home.find("java") != std::string_view::npos ||
         path.find("/jvm/") != std::string_view::npos;
}

std::optional<AppPackage> parse_node_version_header(std::string_view header) {
  std::string major = defined_number(header, "NODE_MAJOR_VERSION"),
              minor = defined_number(header, "NODE_MINOR_VERSION"),
              patch = defined_number(header, "NODE_PATCH_VERSION");
  if (major.empty() || minor.empty() || patch.empty()) return std::nullopt;
  return AppPackage{"generic", "", "node", major + "." + minor + "." + patch, "", ""};
}

std::optional<AppPackage> parse_java_release(std::string_view release) {
  constexpr std::string_view kKey = "JAVA_VERSION=\"";
  for (std::size_t at = release.find(kKey); at != std::string_view::npos;
       at = release.find(kKey, at + 1)) {
    if (at != 0 && release[at - 1] != '\n') continue;
    std::size_t start = at + kKey.size(), end = release.find('"', start);
    if (end == std::string_view::npos || end == start) return std::nullopt;
    return AppPackage{"generic", "", "java", std::string(release.substr(start, end - start)),
                      "",        ""};
  }
  return std::nullopt;
}

}  // namespace bw
