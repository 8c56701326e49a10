// What a parsed layer record costs in memory against its stored facts, for the layer cache's
// weighing (server/store/detail/layer_cache.h): bash bench/cache_bench.sh. For each tar named,
// analyses it as a layer, then parses its stored facts (the JSON both stores keep) 100 times,
// keeping every record, and prints the resident memory they added per record.
#include "layer/byte_source.h"
#include "layer/layer.h"
#include "store/store.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

namespace {

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

int main(int argc, char** argv) {
  constexpr int kCopies = 100;
  for (int i = 1; i < argc; ++i) {
    std::string tar;
    {
      std::ifstream in(argv[i], std::ios::binary);
      std::stringstream buf;
      buf << in.rdbuf();
      tar = buf.str();
    }
    bw::MemorySource source(tar);
    auto facts = bw::analyze_layer(source, bw::LayerLimits{});
    if (!facts) {
      std::fprintf(stderr, "%s: %s\n", argv[i], facts.error().message.c_str());
      return 1;
    }
    const std::string stored = bw::to_json(*facts).dump();
    const std::size_t hashes = facts->path_hashes.size() * 8;
    tar = std::string();
    std::vector<bw::LayerRecord> kept(kCopies);
    const long before = resident_bytes();
    for (auto& record : kept) {
      auto parsed = bw::layer_facts_from_json(nlohmann::json::parse(stored));
      if (!parsed) return 1;
      record.facts = std::move(*parsed);
      record.facts.path_hashes = facts->path_hashes;
    }
    const double per_record = static_cast<double>(resident_bytes() - before) / kCopies;
    std::printf(
        "%s: %zu notable files, stored %zu bytes (facts %zu, path hashes %zu); parsed "
        "record %.0f bytes = %.1fx stored\n",
        argv[i], facts->files.size(), stored.size() + hashes, stored.size(), hashes, per_record,
        per_record / static_cast<double>(stored.size() + hashes));
  }
}
