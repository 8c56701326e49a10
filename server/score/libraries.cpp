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

bool holds(const std::vector<const LayerFacts*>& layers, std::string_view soname) {
  for (auto dir : kLibraryDirs) {
    const std::uint64_t h = path_hash(std::string(dir) + std::string(soname));
    for (const LayerFacts* l : layers)
      if (std::binary_search(l->path_hashes.begin(), l->path_hashes.end(), h)) return true;
  }
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

}  // namespace bw
