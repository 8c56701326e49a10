// Layer analysis: one streaming pass over a layer blob (decompression chosen by magic bytes,
// tar entries through libarchive, whiteouts), producing the facts stored per layer digest.
// Nothing is written to disk and memory stays bounded whatever the layer holds.
#pragma once

#include "analyze/analyze.h"
#include "analyze/capabilities.h"
#include "layer/byte_source.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bw {

// Bumped whenever what analysis records changes; stored facts of an older version are
// re-analysed when an image using them is next scanned.
inline constexpr int kAnalyzerVersion = 7;

struct LayerLimits {
  // Decompressed bytes per layer; a decompression bomb stops here.
  std::uint64_t max_uncompressed_bytes = 16ull << 30;
  // Tar entries per layer.
  std::uint64_t max_entries = 2'000'000;
  // Longer paths are skipped and counted, never stored.
  std::size_t max_path_bytes = 4096;
  // Notable entries recorded per layer; past it the layer is limit_exceeded (facts partial).
  std::size_t max_notable_entries = 50'000;
  // Bytes of recorded facts per layer (paths, links and what analysers learned); past it the
  // layer is limit_exceeded. Bounds memory and the stored row whatever the layer holds.
  std::size_t max_notable_bytes = 32u << 20;
  // CPU time one layer's analysis may take on its worker; past it the layer is
  // limit_exceeded. 0: no bound.
  double max_cpu_seconds = 300;
};

enum class LayerStatus {
  complete,        // every entry was seen
  limit_exceeded,  // a LayerLimits bound stopped analysis; facts are partial
  invalid,         // not a readable tar stream; facts are partial
  skipped,         // not fetched (foreign or non-distributable layer)
};
std::string_view layer_status_name(LayerStatus s);

struct FileEntry {
  std::string path;        // relative, no leading "/" or "./"
  char kind = 'f';         // f regular, d dir, l symlink, h hard link, c/b device, p fifo, s socket
  std::uint32_t mode = 0;  // permission bits including setuid/setgid/sticky
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::uint64_t size = 0;
  std::string link;  // symlink or hard link target
  // What the analysers learned from this file; empty for plain notable entries.
  FileInfo info;
  std::optional<FileCaps> caps;  // the security.capability extended attribute
};

struct Whiteout {
  std::string path;     // the path removed, or the directory made opaque
  bool opaque = false;  // ".wh..wh..opq": lower layers' contents of `path` are hidden
};

struct LayerFacts {
  std::string compression;  // "gzip" | "zstd" | "none"
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  // sha256 of the uncompressed stream; empty unless the whole stream was read (status complete,
  // or limit_exceeded by recorded facts only)
  std::string diff_id;
  std::uint64_t entry_count = 0;
  std::uint64_t skipped_entries = 0;  // over-long or unreadable paths
  LayerStatus status = LayerStatus::complete;
  std::string status_reason;
  std::vector<FileEntry> files;  // notable entries only (see is_notable_path)
  std::uint64_t notable_dropped = 0;
  std::vector<Whiteout> whiteouts;
  // Every entry path (whiteouts aside) as path_hash(), sorted and unique: merging uses it to see
  // that a layer rewrote a lower layer's notable file with one that is not notable.
  std::vector<std::uint64_t> path_hashes;
  // The analysers that produced these facts, by name, with their versions.
  std::map<std::string, int> analyzer_versions;
};

// FNV-1a 64 of a normalised entry path.
std::uint64_t path_hash(std::string_view path);

// Reads `blob` (a compressed or plain layer) to its very end and returns what it holds,
// running the analysers of `analysis` on each entry (bodies read up to their caps).
// Content faults (corrupt stream, limits) are reported in the facts' status, never as errors;
// an error means the source itself failed (network, digest), and then no facts exist.
// Blocking and CPU-bound: call it on a worker thread.
// `cancel`, when set and true, stops the analysis at the next entry or read with
// Errc::cancelled (shutdown): a worker never outlives the grace period by more than one chunk.
Result<LayerFacts> analyze_layer(ByteSource& blob, const LayerLimits& limits,
                                 const AnalyzeOptions& analysis = {},
                                 const std::atomic<bool>* cancel = nullptr);

// Whether an entry is worth recording per layer: security-relevant modes, system config and
// binaries, package databases, credentials.
bool is_notable(const FileEntry& e);

nlohmann::json to_json(const FileEntry& e);
nlohmann::json to_json(const LayerFacts& f);
Result<LayerFacts> layer_facts_from_json(const nlohmann::json& j);

}  // namespace bw
