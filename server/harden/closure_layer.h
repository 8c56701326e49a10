// The one layer `bulwark harden` writes: the app's closure (score.h in_closure()) read out of the
// image's own layers as they stack, as a COPY of those paths from the old image would make it.
#pragma once

#include "common/error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bw {

struct ClosureLayer {
  std::string blob;     // gzip of the tar
  std::string digest;   // sha256 of blob
  std::string diff_id;  // sha256 of the tar
  std::uint64_t entries = 0;
};

// `layers`: the image's own layer blobs, bottom first (gzip, zstd or plain tar). An upper layer's
// file replaces a lower one's; a whiteout hides the lower layers' path, an opaque whiteout their
// contents of a directory; whiteouts themselves are not carried (what they removed is below the
// closure). A hard link is carried when its target is. Errc::conflict past `max_tar_bytes` of
// output (the message names the limit), Errc::invalid_image for a layer that is not a readable tar.
Result<ClosureLayer> build_closure_layer(const std::vector<std::string>& layers,
                                         const std::vector<std::string>& closure,
                                         std::uint64_t max_tar_bytes);

}  // namespace bw
