// Image references and platforms as API callers send them.
#include "reference/reference.h"
#include "registry/manifest.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto ref = bw::parse_reference(text)) {
    // A canonical reference parses again to itself.
    auto again = bw::parse_reference(ref->canonical());
    if (!again || again->canonical() != ref->canonical()) __builtin_trap();
  }
  (void)bw::parse_platform(text);
  return 0;
}
