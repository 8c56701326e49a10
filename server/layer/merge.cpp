#include "layer/merge.h"

#include <algorithm>
#include <map>
#include <string_view>

namespace bw {
namespace {

// Keyed by the paths in the layers' facts, which outlive the merge.
using Files = std::map<std::string_view, MergedFile>;

// Erases `dir` itself (unless keep_dir) and everything below it.
void erase_tree(Files& files, const std::string& dir, bool keep_dir) {
  if (!keep_dir) files.erase(dir);
  std::string prefix = dir.empty() ? "" : dir + "/";
  for (auto it = files.lower_bound(prefix); it != files.end() && it->first.starts_with(prefix);)
    it = files.erase(it);
}

}  // namespace

std::vector<MergedFile> merge_layers(const std::vector<const LayerFacts*>& layers) {
  Files files;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerFacts& l = *layers[i];
    // Whiteouts apply to lower layers only, so remove first, then add this layer's entries.
    for (auto& w : l.whiteouts) erase_tree(files, w.path, /*keep_dir=*/w.opaque);
    // A lower notable file this layer rewrote (as anything, notable or not) is gone.
    if (!l.path_hashes.empty())
      for (auto it = files.begin(); it != files.end();)
        it = std::binary_search(l.path_hashes.begin(), l.path_hashes.end(), path_hash(it->first))
                 ? files.erase(it)
                 : std::next(it);
    for (auto& e : l.files) files[e.path] = MergedFile{&e, i};
  }
  std::vector<MergedFile> out;
  out.reserve(files.size());
  for (auto& [path, f] : files) out.push_back(std::move(f));
  return out;
}

}  // namespace bw
