#include "common/gzip.h"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cstdint>
#include <limits>
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

std::optional<std::string> zlib_inflate(std::string_view data, std::size_t max) {
  if (data.size() >= (std::uint64_t{1} << 32)) return std::nullopt;
  inflate_state s{};
  isal_inflate_init(&s);
  s.crc_flag = ISAL_ZLIB;
  s.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<std::uint32_t>(data.size());
  // Grown as output comes, to at most max + 1 bytes: one byte more than allowed tells a stream
  // that is too large from one that fills `max` exactly.
  const std::size_t room = max < std::numeric_limits<std::size_t>::max() ? max + 1 : max;
  std::string out(std::min<std::size_t>(room, data.size() * 4 + 256), '\0');
  std::size_t produced = 0;
  while (true) {
    s.next_out = reinterpret_cast<std::uint8_t*>(out.data() + produced);
    s.avail_out = static_cast<std::uint32_t>(
        std::min<std::size_t>(out.size() - produced, std::numeric_limits<std::uint32_t>::max()));
    if (isal_inflate(&s) != ISAL_DECOMP_OK) return std::nullopt;
    produced = static_cast<std::size_t>(reinterpret_cast<char*>(s.next_out) - out.data());
    if (s.block_state == ISAL_BLOCK_FINISH) break;
    if (s.avail_out != 0) return std::nullopt;  // the input ended before the stream did
    if (produced > max) return std::nullopt;
    if (produced == out.size()) out.resize(out.size() <= room / 2 ? out.size() * 2 : room);
  }
  if (produced > max) return std::nullopt;
  out.resize(produced);
  return out;
}

}  // namespace bw
