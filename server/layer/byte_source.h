// A blocking pull source of bytes: the seam between where layer bytes come from (a registry
// stream through a bounded pipe, a file, a test buffer) and the single pass that analyses
// them. Implementations are used from one thread at a time.
#pragma once

#include "common/error.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace bw {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into buf. Returns 0 only at the end of the stream; the end is final.
  virtual Result<std::size_t> read(char* buf, std::size_t n) = 0;
};

// Reads from a buffer the caller keeps alive.
class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view data) : data_(data) {}
  Result<std::size_t> read(char* buf, std::size_t n) override;

 private:
  std::string_view data_;
};

// Reads `source` to its end, discarding the bytes. Returns how many there were.
Result<std::uint64_t> drain(ByteSource& source);

}  // namespace bw
