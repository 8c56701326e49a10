#include "layer/merge.h"
#include "score/score.h"

#include <algorithm>

namespace bw {

bool in_closure(const std::vector<std::string>& copy_paths, std::string_view path) {
  for (std::string_view c : copy_paths) {
    if (c.starts_with("/")) c.remove_prefix(1);
    if (c.ends_with("/")) {
      c.remove_suffix(1);
      if (path == c || (path.starts_with(c) && path.size() > c.size() && path[c.size()] == '/'))
        return true;
    } else if (path == c) {
      return true;
    }
  }
  return false;
}

LayerFacts closure_facts(const std::vector<const LayerFacts*>& app_layers,
                         const std::vector<std::string>& copy_paths,
                         const std::vector<const LayerFacts*>& below) {
  LayerFacts out;
  out.compression = "gzip";
  // The app layers as they stack (a later file replaces, a whiteout removes): what a COPY of
  // the closure's paths out of the old image reads.
  for (auto& m : merge_layers(app_layers))
    if (in_closure(copy_paths, m.entry->path)) out.files.push_back(*m.entry);
  for (auto& f : out.files) out.path_hashes.push_back(path_hash(f.path));
  // A path copied by name that is not a notable file (a library's link, named by its soname):
  // the layer holds it whenever an app layer does.
  for (std::string_view c : copy_paths) {
    if (c.ends_with("/")) continue;
    if (c.starts_with("/")) c.remove_prefix(1);
    const std::uint64_t h = path_hash(c);
    for (const LayerFacts* a : app_layers)
      if (std::binary_search(a->path_hashes.begin(), a->path_hashes.end(), h)) {
        out.path_hashes.push_back(h);
        break;
      }
  }
  // A file of the layers below that the closure rewrites with one that is not notable: the
  // closure holds its path whenever an app layer does.
  for (const LayerFacts* l : below)
    for (auto& f : l->files) {
      if (!in_closure(copy_paths, f.path)) continue;
      const std::uint64_t h = path_hash(f.path);
      for (const LayerFacts* a : app_layers)
        if (std::binary_search(a->path_hashes.begin(), a->path_hashes.end(), h)) {
          out.path_hashes.push_back(h);
          break;
        }
    }
  std::sort(out.path_hashes.begin(), out.path_hashes.end());
  out.path_hashes.erase(std::unique(out.path_hashes.begin(), out.path_hashes.end()),
                        out.path_hashes.end());
  out.entry_count = out.files.size();
  return out;
}

}  // namespace bw
