// Whole-buffer compression with ISA-L: gzip (RFC 1952) at its fastest level for API answers and
// the layer `bulwark harden` writes; zlib (RFC 1950) inflation for data that binaries embed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bw {

// Empty if compression failed or `data` is 4 GiB or more (ISA-L counts input in 32 bits).
std::string gzip_compress(std::string_view data);

// The zlib stream `data` holds, inflated; nullopt when it is not one, is cut short, or would
// inflate to more than `max` bytes (nothing past `max` is produced).
std::optional<std::string> zlib_inflate(std::string_view data, std::size_t max);

}  // namespace bw
