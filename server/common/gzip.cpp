#include "common/gzip.h"

#include <isa-l/igzip_lib.h>

#include <cstdint>
#include <vector>

namespace bw {

std::string gzip_compress(std::string_view data) {
  if (data.size() >= (std::uint64_t{1} << 32)) return {};
  isal_zstream s;
  isal_deflate_init(&s);
  std::vector<std::uint8_t> level_buf(ISAL_DEF_LVL1_DEFAULT);
  s.level = 1;
  s.level_buf = level_buf.data();
  s.level_buf_size = static_cast<std::uint32_t>(level_buf.size());
  s.gzip_flag = IGZIP_GZIP;
  s.end_of_stream = 1;
  s.flush = NO_FLUSH;
  // ISA-L takes non-const input pointers but never writes through them.
  s.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<std::uint32_t>(data.size());
  std::string out(data.size() / 2 + 1024, '\0');
  std::size_t produced = 0;
  while (true) {
    if (produced == out.size()) out.resize(out.size() * 2);
    s.next_out = reinterpret_cast<std::uint8_t*>(out.data() + produced);
    s.avail_out = static_cast<std::uint32_t>(out.size() - produced);
    if (isal_deflate(&s) != COMP_OK) return {};
    produced = out.size() - s.avail_out;
    if (s.internal_state.state == ZSTATE_END) break;
  }
  out.resize(produced);
  return out;
}

}  // namespace bw
