// Replays layer facts bottom-up with whiteouts into the final view of the image's notable
// files, each attributed to the layer that last wrote it.
#pragma once

#include "layer/layer.h"

#include <string>
#include <vector>

namespace bw {

struct MergedFile {
  const FileEntry* entry = nullptr;  // in the layer's facts, which outlive the merge
  std::size_t layer_index = 0;       // position of the introducing layer, bottom = 0
};

// Files that survive in the final filesystem, sorted by path: each points into `layers`, not a
// copy (a base layer's files are merged for every image built on it). A whiteout removes the path
// and everything under it from lower layers; an opaque whiteout hides the lower layers' contents of
// its directory; entries of the same layer as the whiteout are kept.
std::vector<MergedFile> merge_layers(const std::vector<const LayerFacts*>& layers);

}  // namespace bw
