// Rust: the crates a binary was built from, as `cargo auditable` records them: a zlib-compressed
// JSON object {"packages": [{"name", "version", "source", "kind", "dependencies", "root"}, …]}
// in the binary's .dep-v0 section.
#include "analyze/app_packages.h"
#include "common/gzip.h"

namespace bw {

std::vector<AppPackage> parse_cargo_auditable(std::string_view compressed, std::size_t max_bytes) {
  std::vector<AppPackage> out;
  auto text = zlib_inflate(compressed, max_bytes);
  if (!text) return out;
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (!doc.is_object()) return out;
  auto packages = doc.find("packages");
  if (packages == doc.end() || !packages->is_array()) return out;
  for (auto& p : *packages) {
    if (!p.is_object()) continue;
    auto name = p.find("name"), version = p.find("version"), kind = p.find("kind");
    if (name == p.end() || !name->is_string() || version == p.end() || !version->is_string())
      continue;
    // Build scripts and proc-macros (and what only they use) do not ship in the binary; an
    // absent kind is "runtime".
    if (kind != p.end() && *kind == "build") continue;
    AppPackage a;
    a.ecosystem = "cargo";
    a.name = name->get<std::string>();
    a.version = version->get<std::string>();
    if (a.name.empty() || a.version.empty()) continue;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace bw
