#include "common/text.h"
#include "layer/merge.h"
#include "score/score.h"

#include <algorithm>
#include <deque>
#include <set>

namespace bw {

namespace {

// Where the dynamic loader looks without help (ld.so's built-in and Debian's multiarch
// directories), as layer facts name paths.
constexpr std::string_view kLibraryDirs[] = {"lib/x86_64-linux-gnu/",
                                             "usr/lib/x86_64-linux-gnu/",
                                             "lib/aarch64-linux-gnu/",
                                             "usr/lib/aarch64-linux-gnu/",
                                             "lib64/",
                                             "usr/lib64/",
                                             "lib/",
                                             "usr/lib/",
                                             "usr/local/lib/"};

bool holds_path(const std::vector<const LayerFacts*>& layers, const std::string& path) {
  const std::uint64_t h = path_hash(path);
  for (const LayerFacts* l : layers)
    if (std::binary_search(l->path_hashes.begin(), l->path_hashes.end(), h)) return true;
  return false;
}

bool holds(const std::vector<const LayerFacts*>& layers, std::string_view soname) {
  for (auto dir : kLibraryDirs)
    if (holds_path(layers, std::string(dir) + std::string(soname))) return true;
  return false;
}

}  // namespace

CarriedLibraries carry_libraries(const AdviceInput& in, const AppNeeds& needs,
                                 const MeasuredBase& candidate) {
  CarriedLibraries out;
  if (!candidate.facts) return out;
  std::vector<const LayerFacts*> theirs, app;
  for (auto& f : *candidate.facts) theirs.push_back(&f);
  for (std::size_t i = in.base.layers; i < in.layer_facts.size(); ++i)
    app.push_back(in.layer_facts[i]);
  // The app's layers as they stack: where its executables and libraries are read from.
  const std::vector<MergedFile> merged = merge_layers(app);
  auto elf_at = [&](std::string_view path) -> const FileEntry* {
    auto it =
        std::lower_bound(merged.begin(), merged.end(), path,
                         [](const MergedFile& m, std::string_view p) { return m.entry->path < p; });
    return it != merged.end() && it->entry->path == path && it->entry->info.elf ? it->entry
                                                                                : nullptr;
  };
  // A link named by the soname is not recorded; the file it names is, by its DT_SONAME.
  auto elf_named = [&](std::string_view dir, std::string_view soname) -> const FileEntry* {
    for (auto& m : merged)
      if (m.entry->info.elf && m.entry->info.elf->soname == soname &&
          m.entry->path.starts_with(dir) &&
          m.entry->path.find('/', dir.size()) == std::string::npos)
        return m.entry;
    return nullptr;
  };

  struct Need {
    std::string soname, by;
  };
  std::deque<Need> todo;
  for (auto& m : merged)
    if (m.entry->info.elf && in_closure(needs.copy_paths, m.entry->path))
      for (auto& soname : m.entry->info.elf->needed) todo.push_back({soname, m.entry->path});
  std::set<std::string> asked;
  std::set<std::string> paths;
  while (!todo.empty()) {
    Need n = std::move(todo.front());
    todo.pop_front();
    if (!asked.insert(n.soname).second || holds(theirs, n.soname)) continue;
    // Where the loader finds it in the old image; a library in neither image's system
    // directories is the app's own (found through its RUNPATH), carried with it or not at all.
    std::string path;
    for (auto dir : kLibraryDirs)
      if (holds_path(in.layer_facts, std::string(dir) + n.soname)) {
        path = std::string(dir) + n.soname;
        break;
      }
    if (path.empty() || in_closure(needs.copy_paths, path)) continue;
    const std::string lacks = "/" + n.by + " needs " + n.soname + ", which it lacks";
    if (!holds_path(app, path)) {
      out.why_not = lacks + " (the old base provides it, not the app's layers)";
      return out;
    }
    const FileEntry* lib = elf_at(path);
    if (!lib) lib = elf_named(path.substr(0, path.size() - n.soname.size()), n.soname);
    if (!lib || lib->info.elf->partial) {
      out.why_not = lacks + " (what /" + path + " loads in turn was not read)";
      return out;
    }
    paths.insert("/" + path);
    paths.insert("/" + lib->path);
    out.sonames.push_back(n.soname);
    for (auto& soname : lib->info.elf->needed) todo.push_back({soname, lib->path});
  }
  out.paths.assign(paths.begin(), paths.end());
  return out;
}

std::string unread_python_packages(const AppNeeds& needs, const MeasuredBase& candidate) {
  if (needs.python_dirs.empty() || !candidate.facts) return {};
  std::vector<const LayerFacts*> theirs;
  for (auto& f : *candidate.facts) theirs.push_back(&f);
  // Debian's site module adds its dist-packages directories to the path; other builds of
  // Python (Wolfi's, python.org's) read site-packages only.
  if (holds_path(theirs, "etc/debian_version")) return {};
  return "the app's Python packages are installed in " + needs.python_dirs.front() +
         ", which only Debian's Python reads";
}

}  // namespace bw
