// Walks the entries of an uncompressed tar stream (ustar, pax, GNU long names and links,
// sparse) with libarchive, never seeking and never extracting.
#pragma once

#include "layer/byte_source.h"
#include "layer/layer.h"

#include <functional>
#include <string>

namespace bw {

// Reads the current entry's content, up to a cap. Valid only during the visitor call.
class EntryBody {
 public:
  virtual ~EntryBody() = default;
  // Up to `max` bytes of the entry from its start; `truncated` tells whether more remained.
  virtual Result<std::string> read(std::size_t max, bool& truncated) = 0;
  // Up to `max` bytes from `offset`, after what was read so far (the stream does not seek back:
  // an offset already passed yields nothing).
  virtual Result<std::string> read_at(std::uint64_t offset, std::size_t max, bool& truncated) = 0;
};

// Called per entry with its header; returns false to stop the walk (a limit was hit).
using EntryVisitor = std::function<bool(const FileEntry& entry, EntryBody& body)>;

struct TarWalkResult {
  std::uint64_t entries = 0;
  std::uint64_t skipped = 0;  // entries whose path was unreadable or longer than the limit
  bool stopped = false;       // the visitor asked to stop
  std::string error;          // non-empty when the stream is not a readable tar
};

// Walks `tar` to its end-of-archive marker (or the first fault). An error from the source
// itself is returned as an error; format faults are reported in TarWalkResult::error.
Result<TarWalkResult> walk_tar(ByteSource& tar, std::size_t max_path_bytes,
                               const EntryVisitor& visit);

// "./usr//bin/../x" → "usr/bin/../x": drops leading "/" and "./", folds repeated slashes
// and trailing "/". Keeps ".." (the entry is recorded, never followed).
std::string normalize_entry_path(std::string_view raw);

}  // namespace bw
