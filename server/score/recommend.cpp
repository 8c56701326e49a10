#include "common/embedded.h"
#include "score/score.h"

#include <algorithm>
#include <set>

namespace bw {

using nlohmann::json;

namespace {

const json& bases_catalog() {
  static const json catalog = json::parse(schema_files::get("bases.json"))["bases"];
  return catalog;
}

// Findings a base change does not touch: those of the app's own layers and config, except what
// the new Dockerfile fixes (a numeric non-root USER) or the new base replaces.
bool survives_base_change(const Finding& f) {
  static const std::set<std::string> fixed = {
      "BW-USER-ROOT", "BW-USER-NONNUMERIC", "BW-USER-UNKNOWN", "BW-PKGCOUNT",   "BW-OS-EOL",
      "BW-IMAGE-AGE", "BW-PASSWD-EMPTY",    "BW-PASSWD-DUPID", "BW-LOGIN-SHELL"};
  if (f.origin != Origin::app || fixed.count(f.rule_id)) return false;
  // Attack-surface findings the app layers add (a shell they install) stay; base ones go.
  return true;
}

Finding synthetic(const RuleCatalog& c, const std::string& id, const std::string& detail) {
  Finding f;
  f.rule_id = id;
  if (auto* d = c.find(id)) {
    f.title = d->title;
    f.category = d->category;
    f.severity = d->severity;
  }
  f.evidence.detail = detail;
  f.origin = Origin::base;
  return f;
}

}  // namespace

json recommend_bases(const RuleCatalog& catalog, const std::vector<Finding>& findings,
                     const ImageSummary& summary, const json& config, const BaseInfo& base,
                     const std::vector<std::string>& layers, int current_score,
                     std::uint64_t base_bytes) {
  const json& cfg = config.value("config", json::object());
  std::vector<std::string> entry;
  std::string entry_path;
  for (const char* k : {"Entrypoint", "Cmd"})
    if (auto e = cfg.find(k); e != cfg.end() && e->is_array())
      for (auto& w : *e)
        if (w.is_string()) entry.push_back(w);
  if (!entry.empty()) entry_path = entry[0];
  std::string entry_base = entry_path.substr(entry_path.rfind('/') + 1);
  // What the app needs from its base, from the executables the app layers add (the base's own
  // tools say nothing about the app) and the one the entrypoint names.
  bool any_static = false, glibc = false, musl = false;
  std::set<std::string> base_layers(
      layers.begin(),
      layers.begin() + static_cast<std::ptrdiff_t>(std::min(base.layers, layers.size())));
  for (auto& x : summary.executables) {
    bool app = !base_layers.count(x.file.layer_digest) || "/" + x.file.path == entry_path;
    if (!app) continue;
    if (x.elf.is_static) any_static = true;
    if (x.elf.libc == Libc::glibc) glibc = true;
    if (x.elf.libc == Libc::musl) musl = true;
  }
  bool needs_shell = entry_base == "sh" || entry_base == "bash" || entry_path.ends_with(".sh");
  std::set<std::string> runtimes(summary.runtimes.begin(), summary.runtimes.end());
  if (entry_base == "java") runtimes.insert("java");
  if (entry_base.starts_with("python")) runtimes.insert("python");
  if (entry_base == "node") runtimes.insert("node");
  std::string runtime = runtimes.empty() ? "" : *runtimes.begin();
  bool needs_ca = summary.ca_certificates, needs_tz = summary.tzdata;
  bool knows_app = any_static || glibc || musl || !runtime.empty();

  std::vector<Finding> kept;
  for (auto& f : findings)
    if (!f.suppressed && survives_base_change(f)) kept.push_back(f);

  std::size_t packages = summary.packages.size();
  bool has_shell = !summary.attack_surface.shell.empty();
  bool has_pm = !summary.attack_surface.package_manager.empty();
  std::size_t base_setuid = 0;
  for (auto& f : findings)
    if (f.rule_id == "BW-SUID" && f.origin == Origin::base) ++base_setuid;

  json out = json::array();
  for (auto& b : bases_catalog()) {
    std::string libc = b.value("libc", "");
    std::string brt = b.value("runtime", "");
    std::string why;
    if (!runtime.empty()) {
      if (brt != runtime) continue;
      why = "the app runs on " + runtime + ", which this base provides";
    } else {
      if (!brt.empty() || !knows_app) continue;
      if (glibc && libc != "glibc") continue;
      if (musl && libc != "musl") continue;
      if (!glibc && !musl)
        why = "the app's executables are static: they need no libc";
      else
        why = "the app's executables link " + std::string(glibc ? "glibc" : "musl") +
              ", which this base provides";
    }
    if (needs_shell && !b.value("shell", false)) continue;
    if (b.value("id", "") == "scratch" && (needs_ca || needs_tz))
      continue;  // CA certificates / tzdata needed
    std::vector<Finding> projected = kept;
    if (b.value("shell", false))
      projected.push_back(synthetic(catalog, "BW-SHELL", "the base has a shell"));
    if (b.value("package_manager", false))
      projected.push_back(synthetic(catalog, "BW-PKGMGR", "the base has a package manager"));
    std::size_t bp = b.value("packages", 0);
    if (bp > 25) {
      Finding f = synthetic(catalog, "BW-PKGCOUNT", std::to_string(bp) + " packages in the base");
      if (auto* d = catalog.find("BW-PKGCOUNT"))
        f.weight = std::min(10, d->weight + static_cast<int>((bp - 25) / 25));
      projected.push_back(f);
    }
    auto s = score_findings(catalog, projected);
    std::string image = b.value("image", "");
    std::string target = entry_path.empty() ? "/app/" : entry_path;
    std::string dir = target.substr(0, target.rfind('/') + 1);
    json entry_json = entry.empty() ? json::array({target}) : json(entry);
    std::string dockerfile =
        "FROM " +
        (base.name.empty() || base.name == "unknown" ? std::string("<your build image>")
                                                     : base.name) +
        " AS build\n# … the build steps you have today …\n\nFROM " + image +
        "\nCOPY --from=build " + dir + " " + dir + "\nUSER 65532:65532\nENTRYPOINT " +
        entry_json.dump() + "\n";
    std::uint64_t base_mb = b.value("size_mb", 0ull) * 1000000ull;
    json removes = {{"packages", packages > bp ? packages - bp : 0},
                    {"shell", has_shell && !b.value("shell", false)},
                    {"package_manager", has_pm && !b.value("package_manager", false)},
                    {"setuid_files", base_setuid},
                    {"bytes", base_bytes > base_mb ? base_bytes - base_mb : 0}};
    out.push_back({{"base", image},
                   {"id", b.value("id", "")},
                   {"action", "switch"},
                   {"reason", why},
                   {"removes", removes},
                   {"projected_score", s.score},
                   {"projected_grade", grade_name(s.grade)},
                   {"risk", b.value("risk", 0)},
                   {"dockerfile", dockerfile}});
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    if (a["projected_score"] != b["projected_score"])
      return a["projected_score"] > b["projected_score"];
    return a["risk"] < b["risk"];
  });
  // Already on a base at least as good as the best candidate: keep it.
  bool on_minimal = base.name.starts_with("distroless/") || base.name.starts_with("cgr.dev/") ||
                    base.name == "wolfi" || base.name == "chainguard" || base.name == "scratch";
  if (on_minimal || (!out.empty() && out[0]["projected_score"].get<int>() <= current_score) ||
      (out.empty() && knows_app)) {
    json keep = {
        {"base", base.name.empty() ? "current" : base.name},
        {"action", "keep"},
        {"reason", on_minimal ? "already on a minimal base with no shell or package manager"
                              : "no candidate base scores higher than the current one"},
        {"removes",
         {{"packages", 0},
          {"shell", false},
          {"package_manager", false},
          {"setuid_files", 0},
          {"bytes", 0}}},
        {"projected_score", current_score},
        {"projected_grade", grade_name(grade_for(current_score))},
        {"dockerfile", ""}};
    if (on_minimal)
      out = json::array({keep});
    else
      out.insert(out.begin(), keep);
  }
  return out;
}

}  // namespace bw
