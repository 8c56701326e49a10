// Decompression chosen by the stream's magic bytes, not only by the declared media type:
// gzip (ISA-L igzip, several members allowed), zstd (libzstd, several frames allowed), or
// uncompressed tar passed through.
#pragma once

#include "layer/byte_source.h"

#include <memory>
#include <string>

namespace bw {

enum class Compression { none, gzip, zstd };
std::string_view compression_name(Compression c);

// Peeks at `compressed` and returns a source of the decompressed bytes. `detected` receives
// the format. The returned source reads from `compressed`, which must outlive it. Corrupt
// input is Errc::unsupported_media_type with the decoder's reason.
Result<std::unique_ptr<ByteSource>> open_decompressed(ByteSource& compressed,
                                                      Compression& detected);

}  // namespace bw
