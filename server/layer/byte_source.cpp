#include "layer/byte_source.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace bw {

Result<std::size_t> MemorySource::read(char* buf, std::size_t n) {
  std::size_t k = std::min(n, data_.size());
  std::memcpy(buf, data_.data(), k);
  data_.remove_prefix(k);
  return k;
}

Result<std::uint64_t> drain(ByteSource& source) {
  std::vector<char> buf(256 * 1024);
  std::uint64_t total = 0;
  while (true) {
    auto n = source.read(buf.data(), buf.size());
    if (!n) return n.error();
    if (*n == 0) return total;
    total += *n;
  }
}

}  // namespace bw
