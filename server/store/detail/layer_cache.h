// Layer records as parsed from their stored rows, kept in memory by the row's version. A layer
// shared by a fleet's images (their base) is read for every new image's report: its facts are
// tens of kilobytes of JSON, stored out of line, then parsed. A reader that names the versions
// it holds is sent no facts for those rows and copies the parsed record instead.
// Thread-safe. Private to store/.
#pragma once

#include "store/store.h"

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace bw::detail {

// The memory both backends give it: a few dozen base layers' worth, the bases a fleet shares.
constexpr std::size_t kLayerCacheBytes = 64u << 20;
// What a parsed record takes in memory against its stored size (facts' JSON and path hashes),
// rounded up: bench/cache_bench.sh printed 4.2x for 40 MB of shared libraries and 6.0x for
// /usr/bin, /usr/sbin and /etc.
constexpr std::size_t kParsedPerStoredByte = 8;

class LayerCache {
 public:
  // `budget_bytes`: the memory kept at most, each record weighed at kParsedPerStoredByte times
  // its stored size; the least recently used records go first. 0 keeps nothing.
  explicit LayerCache(std::size_t budget_bytes) : budget_(budget_bytes) {}
  LayerCache(const LayerCache&) = delete;
  LayerCache& operator=(const LayerCache&) = delete;

  struct Entry {
    std::string version;  // the stored row's version when it was read
    std::shared_ptr<const LayerRecord> record;
  };
  // The record kept for `digest`, whatever its version (the caller compares).
  std::optional<Entry> find(const std::string& digest);
  // Keeps `record` as `digest` at `version`, replacing what was kept for it, and returns it.
  // `stored_bytes`: the size of its facts' JSON and path hashes as stored.
  std::shared_ptr<const LayerRecord> put(const std::string& digest, std::string version,
                                         LayerRecord record, std::size_t stored_bytes);

 private:
  struct Slot {
    Entry entry;
    std::size_t weight = 0;
    std::list<std::string>::iterator use;  // position in uses_
  };
  void drop(std::unordered_map<std::string, Slot>::iterator it);  // REQUIRES: mu_ held

  const std::size_t budget_;
  std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;  // guarded by mu_
  std::list<std::string> uses_;                  // most recent first; guarded by mu_
  std::size_t weight_ = 0;                       // guarded by mu_
};

}  // namespace bw::detail
