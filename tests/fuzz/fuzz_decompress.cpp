// The decompressors alone: whatever the bytes, a stream is opened (or refused) and read to
// its end or first fault without crashing or growing without bound.
#include "layer/decompress.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bw::MemorySource source(std::string_view(reinterpret_cast<const char*>(data), size));
  bw::Compression kind = bw::Compression::none;
  auto stream = bw::open_decompressed(source, kind);
  if (!stream) return 0;
  char buf[65536];
  std::uint64_t total = 0;
  while (total < (64u << 20)) {
    auto n = (*stream)->read(buf, sizeof buf);
    if (!n || *n == 0) break;
    total += *n;
  }
  return 0;
}
