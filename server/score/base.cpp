#include "rules/history.h"
#include "score/score.h"

#include <set>

namespace bw {

using nlohmann::json;

namespace {

// Trivy's heuristic: the base ends at the last CMD/ENTRYPOINT that only set metadata before
// the app's own steps (trailing metadata-only steps ignored).
std::size_t history_base_layers(const json& config, bool& found) {
  auto steps = parse_history(config);
  found = false;
  int last = static_cast<int>(steps.size()) - 1;
  while (last >= 0 && steps[static_cast<std::size_t>(last)].empty_layer) --last;
  for (int i = last; i >= 0; --i) {
    auto& s = steps[static_cast<std::size_t>(i)];
    if (s.empty_layer && (s.instruction == "CMD" || s.instruction == "ENTRYPOINT")) {
      found = true;
      std::size_t n = 0;
      for (int k = 0; k < i; ++k)
        if (!steps[static_cast<std::size_t>(k)].empty_layer) ++n;
      return n;
    }
  }
  return 0;
}

// The way busybox, alpine and Debian's official images are made: the first step unpacks a root
// filesystem. That layer is a base even when nothing else marks it.
bool starts_with_rootfs(const json& config) {
  auto steps = parse_history(config);
  for (auto& s : steps) {
    if (s.empty_layer) continue;
    return s.instruction == "ADD" && s.text.starts_with("file:") && s.text.ends_with(" in /");
  }
  return false;
}

// Distroless built without its os-release marker: one dpkg status.d file per package and no
// status file, no shell, no package manager.
bool distroless_style(const ImageSummary& summary) {
  bool status_d = false, status = false;
  for (auto& db : summary.package_dbs) {
    status_d |= db.path.starts_with("var/lib/dpkg/status.d/");
    status |= db.path == "var/lib/dpkg/status";
  }
  return status_d && !status && summary.attack_surface.shell.empty() &&
         summary.attack_surface.package_manager.empty();
}

std::string os_base_name(const ImageSummary& summary) {
  if (!summary.os) return {};
  const std::string &family = summary.os->family, &name = summary.os->name,
                    &pretty = summary.os->pretty;
  auto major = [](const std::string& v, int parts) {
    std::string out;
    int seen = 0;
    for (char c : v) {
      if (c == '.' && ++seen == parts) break;
      out += c;
    }
    return out;
  };
  if (pretty.find("Distroless") != std::string::npos) {
    bool libc = false, libstdcxx = false;
    for (auto& p : summary.packages) {
      const std::string& n = p.package.name;
      libc |= n == "libc6";
      libstdcxx |= n.starts_with("libstdc++");
    }
    return libstdcxx ? "distroless/cc" : libc ? "distroless/base" : "distroless/static";
  }
  if (distroless_style(summary)) return "distroless-style (" + family + " " + major(name, 1) + ")";
  if (family == "debian") return "debian:" + major(name, 1);
  if (family == "ubuntu") return "ubuntu:" + name;
  if (family == "alpine") return "alpine:" + major(name, 2);
  if (family == "wolfi" || family == "chainguard") return family;
  if (family == "redhat") return "ubi" + major(name, 1);
  return family + ":" + name;
}

}  // namespace

BaseInfo detect_base(const json& manifest, const json& config, const ImageSummary& summary,
                     const std::vector<std::string>& layers,
                     const std::vector<ReferenceImage>& refs) {
  bool hist_found = false;
  std::size_t hist_layers = history_base_layers(config, hist_found);
  bool rootfs = starts_with_rootfs(config);
  auto ann = manifest.value("annotations", json::object());
  if (ann.contains("org.opencontainers.image.base.name")) {
    BaseInfo b{ann["org.opencontainers.image.base.name"].get<std::string>(), "annotation", "high",
               hist_layers};
    std::string digest = ann.value("org.opencontainers.image.base.digest", "");
    for (auto& r : refs)
      if (!digest.empty() && r.manifest_digest == digest) b.layers = r.layers.size();
    return b;
  }
  // The longest reference chain the image starts with; the whole image when it is that
  // reference under another name (busybox:latest pushed as team/busybox).
  const ReferenceImage* best = nullptr;
  for (auto& r : refs)
    if (!r.layers.empty() && r.layers.size() <= layers.size() &&
        std::equal(r.layers.begin(), r.layers.end(), layers.begin()) &&
        (!best || r.layers.size() > best->layers.size()))
      best = &r;
  if (best) return BaseInfo{best->name, "layer-match", "high", best->layers.size()};
  std::string os = os_base_name(summary);
  if (!os.empty()) {
    // Without history to split on, the base is the layers up to the one holding the package
    // database.
    std::size_t n = hist_found ? hist_layers : rootfs ? 1 : 0;
    // A later layer that rewrites the package database (apt-get install) is the app's.
    if (!hist_found && !rootfs) {
      std::vector<std::string> marks = {summary.os_layer_digest};
      for (auto& db : summary.package_dbs) marks.push_back(db.layer_digest);
      for (auto& mark : marks)
        for (std::size_t i = 0; i < layers.size(); ++i)
          if (layers[i] == mark) n = std::max(n, i + 1);
    }
    if (n >= layers.size() && layers.size() > 1) n = layers.size() - 1;
    return BaseInfo{os, "os-release", "medium", n};
  }
  // An image that is only its unpacked root filesystem (busybox:latest) is that base whole.
  if (!hist_found && rootfs && !layers.empty()) {
    hist_found = true;
    hist_layers = 1;
  }
  if (hist_found && hist_layers > 0) {
    // Named by what the base layers hold when no release file says.
    std::set<std::string> base(
        layers.begin(),
        layers.begin() + static_cast<std::ptrdiff_t>(std::min(hist_layers, layers.size())));
    for (auto& f : summary.attack_surface.shell)
      if (f.path == "bin/busybox" && base.count(f.layer_digest))
        return BaseInfo{"busybox", "history", "medium", hist_layers};
    return BaseInfo{"unknown", "history", "low", hist_layers};
  }
  // Nothing of an OS anywhere (no release file, package database, shell or package manager):
  // built FROM scratch, every layer the app's own.
  if (!layers.empty() && summary.package_dbs.empty() && summary.attack_surface.shell.empty() &&
      summary.attack_surface.package_manager.empty())
    return BaseInfo{"scratch", "contents", "medium", 0};
  return BaseInfo{};
}

}  // namespace bw
