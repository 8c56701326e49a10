// The packages an app brings on top of its OS: npm packages, Python distributions, Ruby gems,
// PHP's Composer packages, Go modules, Rust crates and Java archives, each read from the files that
// describe it inside the image (no network).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct AppPackage {
  // "npm" | "pypi" | "golang" | "maven" | "gem" | "composer" | "cargo" | "generic"
  std::string ecosystem;
  std::string group;  // Maven's groupId; empty elsewhere (npm keeps its scope in the name)
  std::string name;   // "@scope/name", "requests", "github.com/x/y", artifactId
  std::string version;
  std::string license;  // as the package declares it; empty when it does not
  std::string origin;   // inside an archive: the path of the entry it came from
  bool dev = false;     // a development dependency, as the list that names it says (Composer)
};

// npm: a package.json (name and version required, else nullopt).
std::optional<AppPackage> parse_npm_package(std::string_view package_json);
// What an app's own npm files say is a dev dependency: the names in package.json's
// devDependencies, or the "node_modules/…" paths a lockfile (package-lock.json,
// node_modules/.package-lock.json; lockfileVersion 1 to 3) marks "dev".
std::vector<std::string> npm_dev_dependencies(std::string_view package_json);
std::vector<std::string> npm_lock_dev_paths(std::string_view lockfile);
// Whether `path` is an installed package's manifest: …/node_modules/[@scope/]name/package.json.
bool is_npm_installed_manifest(std::string_view path);

// Python: a dist-info METADATA or egg-info PKG-INFO (Name and Version required).
std::optional<AppPackage> parse_python_metadata(std::string_view metadata);
// Whether `path` is such a file under a site-packages or dist-packages directory (an egg-info
// may be the file itself, as Debian's python3-* packages install some).
bool is_python_metadata_path(std::string_view path);

// Ruby: a gem's specification as RubyGems writes it (…/specifications/NAME-VERSION.gemspec,
// default gems under specifications/default/): name and version required; its licenses joined
// by " OR " (RubyGems offers the gem under any of them).
std::optional<AppPackage> parse_gemspec(std::string_view gemspec);
bool is_gemspec_path(std::string_view path);

// PHP: the packages a vendor/composer/installed.json lists (Composer 2's object or Composer 1's
// array): name and version required; licenses joined by " OR "; `dev` from Composer 2's
// dev-package-names. Not JSON, or cut short: none.
std::vector<AppPackage> parse_composer_installed(std::string_view installed_json);
bool is_composer_installed_path(std::string_view path);

// Runtimes installed from upstream archives, as Syft lists them ("generic"): Node.js from its
// include/node/node_version.h ("node", "20.11.1"), a JDK or JRE from its release file
// ("java", JAVA_VERSION as written: "17.0.9", "1.8.0_392").
std::optional<AppPackage> parse_node_version_header(std::string_view header);
std::optional<AppPackage> parse_java_release(std::string_view release);
bool is_node_version_header(std::string_view path);
// …/release in a directory named for a JDK or JRE (jdk-17.0.9+9, java-17-openjdk-amd64, jre)
// or under a jvm/ directory.
bool is_java_release_file(std::string_view path);

// Go: the build information the linker embeds ("\xff Go buildinf:" and what follows).
struct GoBuildInfo {
  std::string go_version;                       // "go1.22.1"
  std::string path;                             // the main package's import path
  std::optional<AppPackage> main;               // the main module (module mode only)
  std::vector<AppPackage> deps;                 // replacements applied
  std::map<std::string, std::string> settings;  // "CGO_ENABLED" -> "1", "-trimpath" -> "true"
};
// `at` is where the magic starts; nullopt when the information is not inline (Go before 1.18
// keeps pointers to it) or is cut short.
std::optional<GoBuildInfo> parse_go_buildinfo(std::string_view bytes, std::size_t at);
// The modules a Go binary was built from, as Syft lists them: the main module, its
// dependencies, and the standard library at the Go version ("stdlib").
std::vector<AppPackage> go_packages(const GoBuildInfo& info);
// The offset of the build info's magic in `bytes` (16-byte aligned, as the linker places it).
std::optional<std::size_t> find_go_buildinfo(std::string_view bytes);

// Rust: the crates a binary's .dep-v0 section lists, as `cargo auditable` embeds them (zlib-
// compressed JSON), inflated to at most `max_bytes`: those that ship in the binary, its root
// crate included, as Syft lists them; build-only dependencies are left out. Anything else: none.
std::vector<AppPackage> parse_cargo_auditable(std::string_view compressed, std::size_t max_bytes);

// Java: the packages a jar (war, ear) holds: each META-INF/maven/*/*/pom.properties, else the
// manifest's title and version, else the file name; nested archives read to `depth` levels.
struct JarLimits {
  std::size_t max_entry_bytes = 1 << 20;    // a pom.properties or manifest, inflated
  std::size_t max_nested_bytes = 64 << 20;  // a nested jar, inflated
  std::size_t max_nested_archives = 256;    // nested jars read per outer jar
  int depth = 2;
};
struct JarContents {
  std::vector<AppPackage> packages;
  std::string error;  // why the archive could not be read; packages may still hold its name's
};
JarContents read_jar(std::string_view bytes, std::string_view file_name, const JarLimits& limits);
bool is_java_archive_path(std::string_view path);

nlohmann::json to_json(const AppPackage& p);
AppPackage app_package_from_json(const nlohmann::json& j);

}  // namespace bw
