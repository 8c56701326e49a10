#include "common/text.h"
#include "score/score.h"

#include <algorithm>
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

std::string missing_library(const AdviceInput& in, const AppNeeds& needs,
                            const MeasuredBase& candidate) {
  if (!candidate.facts) return {};
  std::vector<const LayerFacts*> theirs;
  for (auto& f : *candidate.facts) theirs.push_back(&f);
  std::set<std::string> asked;
  for (auto& x : in.summary.executables) {
    // The entrypoint's runtime or shell, when it is not the app's, is the candidate's own.
    if (!in_closure(needs.copy_paths, x.file.path)) continue;
    for (auto& soname : x.elf.needed) {
      if (!asked.insert(soname).second) continue;
      // What the old image's system directories held and the candidate's do not: a library
      // the app bundles (found through its RUNPATH) is in neither.
      if (!holds(theirs, soname) && holds(in.layer_facts, soname))
        return "/" + x.file.path + " needs " + soname + ", which it lacks";
    }
  }
  return {};
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
