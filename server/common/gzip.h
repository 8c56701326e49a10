// gzip (RFC 1952) of a buffer with ISA-L's fastest level: API answers, and the layer
// `bulwark harden` writes.
#pragma once

#include <string>
#include <string_view>

namespace bw {

// Empty if compression failed or `data` is 4 GiB or more (ISA-L counts input in 32 bits).
std::string gzip_compress(std::string_view data);

}  // namespace bw
