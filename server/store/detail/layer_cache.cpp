#include "store/detail/layer_cache.h"

namespace bw::detail {

std::optional<LayerCache::Entry> LayerCache::find(const std::string& digest) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(digest);
  if (it == slots_.end()) return std::nullopt;
  uses_.splice(uses_.begin(), uses_, it->second.use);
  return it->second.entry;
}

std::shared_ptr<const LayerRecord> LayerCache::put(const std::string& digest, std::string version,
                                                   LayerRecord record, std::size_t stored_bytes) {
  auto kept = std::make_shared<const LayerRecord>(std::move(record));
  const std::size_t weight = stored_bytes * kParsedPerStoredByte;
  // A record heavier than the whole budget would only push everything else out.
  if (weight > budget_) return kept;
  std::lock_guard lock(mu_);
  if (auto it = slots_.find(digest); it != slots_.end()) drop(it);
  while (weight_ + weight > budget_ && !uses_.empty()) drop(slots_.find(uses_.back()));
  uses_.push_front(digest);
  slots_.emplace(digest, Slot{Entry{std::move(version), kept}, weight, uses_.begin()});
  weight_ += weight;
  return kept;
}

void LayerCache::drop(std::unordered_map<std::string, Slot>::iterator it) {
  weight_ -= it->second.weight;
  uses_.erase(it->second.use);
  slots_.erase(it);
}

}  // namespace bw::detail
